"""A local trial's directory, made ready to launch: :func:`prepare_trial_dir`.

``<trial_dir>/code`` (the unpacked snapshot), ``params.json``, ``sdk/`` (the SDK the
script imports), ``restore/`` (a copy of the checkpoint it continues from, if any);
the command line with its placeholders filled in, and the trial's environment. The
SSH executor sends the same files as a payload (:mod:`app.remote.ssh.payload`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from app.engine.processes import is_alive
from app.engine.protocol import RESTORE_DIR
from app.engine.records import TrialSpec
from app.remote.launcher import (
    AUP_PARAMS_FILE,
    CODE_DIR,
    PARAMS_FILE,
    SDK_DIR,
    aup_params_json,
    command_line,
    params_json,
    read_pid_file,
    trial_environment,
    unpack_folder,
)
from app.remote.snapshot import unpack_snapshot


def prepare_trial_dir(trial_dir: Path, spec: TrialSpec, python: str, sdk: Path,
                      gpus: Sequence[int]) -> tuple[str, dict[str, str]]:
    """Make ``trial_dir`` afresh (only the user may read it) and return the command and
    environment to launch in it. A missing ``sdk`` file is left out. A folder whose
    wrapper still runs is never removed.

    Raises:
        ValueError: the command names an unknown placeholder.
        TypeError: a parameter value JSON cannot hold.
        OSError: the directory or its files cannot be written, its trial runs, or the
            checkpoint to restore cannot be copied (gone, unreadable).
    """
    if trial_dir.exists():
        running = read_pid_file(trial_dir)
        if running is not None and is_alive(running.pid, running.start_time):
            raise OSError(f"{trial_dir} belongs to a trial whose process {running.pid} runs")
        shutil.rmtree(trial_dir)  # a stale directory of the same trial id, or abandoned
    trial_dir.mkdir(mode=0o700, parents=True)
    trial_dir.chmod(0o700)  # only the user: its params, code and log (whatever the umask)
    unpack_snapshot(spec.snapshot, trial_dir / CODE_DIR)
    if spec.restore_archive is not None:  # a donor's checkpoint brought from another host
        unpack_folder(spec.restore_archive, trial_dir / RESTORE_DIR)
    elif spec.restore_from is not None:  # a donor's checkpoint, on this same machine
        shutil.copytree(spec.restore_from, trial_dir / RESTORE_DIR, symlinks=True)
    params_path = trial_dir / PARAMS_FILE
    params_path.write_text(params_json(spec.params), encoding="utf-8")
    (trial_dir / AUP_PARAMS_FILE).write_text(aup_params_json(spec.params), encoding="utf-8")
    command = command_line(spec, python, str(params_path))
    (trial_dir / SDK_DIR).mkdir()
    if sdk.is_file():
        shutil.copy2(sdk, trial_dir / SDK_DIR / sdk.name)
    return command, trial_environment(spec, trial_dir, gpus, os.environ)

