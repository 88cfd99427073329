"""A local trial's directory, made ready to launch: :func:`prepare_trial_dir`.

``<trial_dir>/code`` (the unpacked snapshot), ``params.json``, ``auptimizer.json``
(only when the command names ``{aup_params}``), ``sdk/`` (the SDK the script imports),
``launch.sh`` and ``restore/`` (a copy of the checkpoint it continues from, if any);
the command line with its placeholders filled in, and the trial's environment. The
SSH executor sends the same files as a payload (:mod:`app.remote.ssh.payload`).

What every trial gets unchanged (``launch.sh``, the SDK) an executor writes once, into
a :class:`SharedFiles` folder, and hard-links into each trial's folder: a trial's
folder costs two folders, two small files and two links (docs/PERFORMANCE.md,
"Dispatch overhead").
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from app.engine.processes import is_alive
from app.engine.protocol import AUP_PARAMS_PLACEHOLDER, RESTORE_DIR, placeholders
from app.engine.records import TrialSpec
from app.remote.launcher import (
    AUP_PARAMS_FILE,
    CODE_DIR,
    LAUNCH_FILE,
    LAUNCH_SCRIPT,
    PARAMS_FILE,
    SDK_DIR,
    aup_params_json,
    command_line,
    params_json,
    read_pid_file,
    trial_environment,
    unpack_folder,
    write_launcher,
)
from app.remote.snapshot import unpack_snapshot

log = logging.getLogger(__name__)

SHARED_DIR = ".shared"
"""The :class:`SharedFiles` folder of a local executor, in its work root."""


class SharedFiles:
    """The files every trial of one executor gets unchanged: ``launch.sh`` and the SDK.

    Each is written once into ``folder`` under a name made of its content's hash (so a
    trial still running from an older version keeps its own) and hard-linked into each
    trial's folder: one ``link()`` instead of an open, a write, a close and a chmod (or
    the opens, copy and stat calls of a file copy). Where the folder cannot be written,
    or the filesystem links nothing (another device, a filesystem without links), the
    file is written into the trial's folder as before.

    The SDK is looked at (one ``stat``) for each trial: an SDK file changed meanwhile
    is read again, a missing one is left out.

    Thread safety: the executor's launcher thread only.
    """

    def __init__(self, folder: Path, sdk: Path) -> None:
        self._folder = folder
        self._sdk = sdk
        self._sources: dict[tuple[str, int, int], Path] = {}

    def link_launcher(self, trial_dir: Path) -> Path:
        """Put ``launch.sh`` into ``trial_dir``; its path there.

        Raises:
            OSError: it can be neither linked nor written.
        """
        target = trial_dir / LAUNCH_FILE
        if not self._link(("launch", 0, 0), LAUNCH_FILE, LAUNCH_SCRIPT.encode("utf-8"),
                          0o755, target):
            write_launcher(trial_dir)
        return target

    def link_sdk(self, sdk_dir: Path) -> None:
        """Put the SDK file into ``sdk_dir`` (made here); left out while it is missing.

        Raises:
            OSError: the folder cannot be made, or the SDK neither linked nor copied.
        """
        try:
            st = os.stat(self._sdk)
        except OSError:
            log.warning("SDK %s is missing; trial %s runs without it", self._sdk,
                        sdk_dir.parent.name)
            sdk_dir.mkdir()
            return
        sdk_dir.mkdir()
        target = sdk_dir / self._sdk.name
        key = ("sdk", st.st_mtime_ns, st.st_size)
        if key not in self._sources:
            try:
                data = self._sdk.read_bytes()
            except OSError:
                data = None
            if data is None or not self._link(key, self._sdk.name, data, 0o644, target):
                shutil.copy2(self._sdk, target)
            return
        if not self._link(key, self._sdk.name, b"", 0o644, target):
            shutil.copy2(self._sdk, target)

    def _link(self, key: tuple[str, int, int], name: str, data: bytes, mode: int,
              target: Path) -> bool:
        """Hard-link the shared copy of ``data`` (written first if it is not yet) to
        ``target``; False where that cannot be done (the caller writes it)."""
        source = self._sources.get(key)
        if source is None:
            source = self._write_source(name, data, mode)
            if source is None:
                return False
            self._sources[key] = source
        try:
            os.link(source, target)
        except OSError:  # the shared copy was removed, or links are not possible here
            self._sources.pop(key, None)
            return False
        return True

    def _write_source(self, name: str, data: bytes, mode: int) -> Path | None:
        stem, dot, suffix = name.rpartition(".")
        digest = hashlib.sha256(data).hexdigest()[:16]
        source = self._folder / (f"{stem}-{digest}.{suffix}" if dot else f"{name}-{digest}")
        try:
            if not source.is_file():
                self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                temporary = source.with_name(
                    f".{source.name}.{os.getpid()}.{threading.get_ident()}")
                temporary.write_bytes(data)
                temporary.chmod(mode)
                os.replace(temporary, source)  # whole or absent, for every reader
        except OSError as exc:
            log.warning("cannot write %s (each trial gets its own copy): %s", source, exc)
            return None
        return source


def prepare_trial_dir(trial_dir: Path, spec: TrialSpec, python: str, sdk: Path,
                      gpus: Sequence[int], shared: SharedFiles | None = None,
                      ) -> tuple[str, dict[str, str]]:
    """Make ``trial_dir`` afresh (only the user may read it) and return the command and
    environment to launch in it. A missing ``sdk`` file is left out. A folder whose
    wrapper still runs is never removed. With ``shared``, the SDK and ``launch.sh`` are
    linked from there (else the SDK is copied and :func:`~app.remote.launcher.launch`
    writes ``launch.sh``).

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
    if _names_aup_params(spec.command):
        (trial_dir / AUP_PARAMS_FILE).write_text(aup_params_json(spec.params),
                                                 encoding="utf-8")
    command = command_line(spec, python, str(params_path))
    if shared is not None:
        shared.link_sdk(trial_dir / SDK_DIR)
        shared.link_launcher(trial_dir)
    else:
        (trial_dir / SDK_DIR).mkdir()
        if sdk.is_file():
            shutil.copy2(sdk, trial_dir / SDK_DIR / sdk.name)
    return command, trial_environment(spec, trial_dir, gpus, os.environ)


@lru_cache(maxsize=64)
def _names_aup_params(command: str) -> bool:
    """Whether the command template uses ``{aup_params}`` (then ``auptimizer.json`` is
    written; a malformed template is told by :func:`command_line`)."""
    try:
        return AUP_PARAMS_PLACEHOLDER in placeholders(command)
    except ValueError:
        return False
