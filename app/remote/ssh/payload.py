"""What one trial's launch sends to a server: the payload on the helper's stdin (a tar
of the trial's own files, then its command) and the helper's exec line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.params import flatten, params_document
from app.engine.protocol import PYTHON_PLACEHOLDER, render_command
from app.engine.records import TrialSpec
from app.remote.launcher import PARAMS_FILE, SDK_DIR, trial_environment
from app.remote.ssh.hello import Hello
from app.remote.ssh.profile import ServerProfile
from app.remote.ssh.scripts import (
    launch_command,
    pack_payload,
    places_arg,
    trial_command,
    trial_files,
)


@dataclass(frozen=True)
class Sdk:
    """The trial SDK file sent with every trial (``data`` None when it is missing)."""

    name: str
    data: bytes | None


def launch_payload(profile: ServerProfile, hello: Hello, spec: TrialSpec, trial_dir: str,
                   gpus: tuple[int, ...], sdk: Sdk, archive: str) -> tuple[bytes, str]:
    """The payload and the exec line of a trial on ``gpus`` in ``trial_dir``; ``archive``
    is the code snapshot's path on the server.

    Raises:
        ValueError: the snapshot archive is gone, or the command names an unknown
            placeholder.
        TypeError: a parameter value that JSON cannot hold.
    """
    if not spec.snapshot.archive.is_file():
        raise ValueError(f"snapshot archive {spec.snapshot.archive} does not exist")
    params_path = f"{trial_dir}/{PARAMS_FILE}"
    document = json.dumps(params_document(spec.params), indent=2, default=_json_value)
    python = profile.python
    if python.startswith("~/") and hello.home:
        python = hello.home + python[1:]
    names = {PYTHON_PLACEHOLDER: python, **flatten(spec.params)}
    command = render_command(spec.command, names, params_path)
    env = trial_environment(spec, Path(trial_dir), gpus, {})
    text = trial_command(command, env, profile.setup, f"{trial_dir}/{SDK_DIR}",
                         keep_server_pythonpath="PYTHONPATH" not in spec.env)
    files = pack_payload(trial_files(document, sdk.name, sdk.data))
    cmd_bytes = text.encode("utf-8")
    exec_line = launch_command(hello.workdir, trial_dir, archive, len(files), len(cmd_bytes),
                               places_arg(gpus, profile.trials_per_gpu))
    return files + cmd_bytes, exec_line


def _json_value(value: Any) -> Any:
    """numpy scalars and arrays in params.json as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"parameter value {value!r} of type {type(value).__name__} is not JSON")
