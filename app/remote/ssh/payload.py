"""What one trial's launch sends to a server: the payload on the helper's stdin (a tar
of the trial's own files, then its command) and the helper's exec line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.engine.records import TrialSpec
from app.remote.launcher import (
    PARAMS_FILE,
    SDK_DIR,
    aup_params_json,
    command_line,
    params_json,
    trial_environment,
)
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
    document = params_json(spec.params)
    python = profile.python
    if python.startswith("~/") and hello.home:
        python = hello.home + python[1:]
    command = command_line(spec, python, params_path)
    env = trial_environment(spec, Path(trial_dir), gpus, {})
    text = trial_command(command, env, profile.setup, f"{trial_dir}/{SDK_DIR}",
                         keep_server_pythonpath="PYTHONPATH" not in spec.env)
    files = pack_payload(trial_files(document, sdk.name, sdk.data,
                                     aup_params_json(spec.params)))
    cmd_bytes = text.encode("utf-8")
    exec_line = launch_command(hello.workdir, trial_dir, archive, len(files), len(cmd_bytes),
                               places_arg(gpus, profile.trials_per_gpu), spec.restore_from)
    return files + cmd_bytes, exec_line

