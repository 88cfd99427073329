"""How Sweeplab reaches a cluster's login node: :class:`ClusterAccess`, and
:class:`LocalAccess` for an app that runs on the login node itself.

An access runs shell scripts there (``sbatch``, ``squeue``, ``scancel``, each after
the cluster's setup), prepares and submits trial directories, and reads them back. The
SSH flavour is :class:`app.remote.slurm.ssh_access.SshAccess`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.engine.protocol import RESTORE_DIR
from app.engine.records import Snapshot
from app.remote.launcher import EXIT_CODE_FILE, LOG_FILE, PID_FILE, unpack_folder
from app.remote.slurm.commands import (
    JOB_FILE,
    JOB_ID_FILE,
    RESTORE_ARCHIVE,
    SETUP_FAILED,
    ReadRequest,
    ReadResult,
    parse_job_id,
    parse_parsable,
    sbatch_script,
    with_setup,
)
from app.remote.snapshot import unpack_snapshot
from app.remote.ssh.scripts import PayloadFile


class AccessError(Exception):
    """The login node cannot be reached now (it may come back)."""


class SubmitFailed(Exception):
    """A trial could not be submitted; the message says why, in plain words."""


@dataclass(frozen=True)
class ShellResult:
    """What a script did there: exit status, raw stdout, decoded stderr."""

    exit_code: int
    stdout: bytes
    stderr: str


class ClusterAccess(Protocol):
    """The login node of one cluster, as the Slurm executor uses it.

    Contract: every method may be called from any thread; :meth:`run` and
    :meth:`read` raise :class:`AccessError` only when the login node is unreachable
    (a failing command is a result, not an error).
    """

    name: str

    @property
    def online(self) -> bool:
        """The login node answers (always true on this machine)."""
        ...

    def workdir(self) -> str:
        """The cluster's work directory as an absolute path there.

        Raises:
            AccessError: unreachable.
        """
        ...

    def expand(self, path: str) -> str:
        """``path`` with a leading ``~`` made the login user's home."""
        ...

    def run(self, script: str, *, timeout: float, stdin: bytes = b"") -> ShellResult:
        """Run ``script`` with ``/bin/sh`` after the cluster's setup."""
        ...

    def submit(self, trial_dir: str, snapshot: Snapshot, files: Sequence[PayloadFile],
               options: Sequence[str], restore_from: str | None = None) -> int:
        """Make the trial directory (code snapshot unpacked into ``code/``, ``files``
        written), then ``sbatch`` its ``job.sh`` with ``options``; returns the job id.

        PBT: a file :data:`~app.remote.slurm.commands.RESTORE_ARCHIVE` (a checkpoint
        brought from another host) is unpacked into the directory's ``restore/``; else
        the folder ``restore_from`` there (a donor's checkpoint on this cluster) is
        copied to it. Both before ``sbatch``: a job may wait in the queue longer than
        the donor keeps that checkpoint.

        Raises:
            SubmitFailed: the directory could not be made or sbatch refused the job.
            AccessError: unreachable.
        """
        ...

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """Read trial directories (log bytes from each offset, pid, exit code, job id)."""
        ...

    def close(self) -> None:
        """Release connections; safe to call twice."""
        ...


def setup_failure(result: ShellResult, what: str) -> str:
    """A plain-words line for a failed script (its stderr, or its status)."""
    detail = result.stderr.strip()
    if result.exit_code == SETUP_FAILED:
        return f"{what}: the cluster's setup command failed ({detail[:300]})"
    return f"{what} failed with status {result.exit_code}" + (f": {detail[:300]}"
                                                             if detail else "")


class LocalAccess:
    """This machine is the login node: scripts run with ``/bin/sh``, files are local.

    Args:
        name: the cluster's name, in messages.
        workdir: the work directory (``~`` expanded here).
        setup: shell code run before every script.
        env: the environment of the scripts (default: this process's).
    """

    def __init__(self, name: str, workdir: str, setup: str = "",
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self._workdir = os.path.abspath(os.path.expanduser(workdir))
        self._setup = setup
        self._env = env

    @property
    def online(self) -> bool:
        """Always true."""
        return True

    def workdir(self) -> str:
        """The absolute work directory."""
        return self._workdir

    def expand(self, path: str) -> str:
        """``os.path.expanduser``."""
        return os.path.expanduser(path)

    def run(self, script: str, *, timeout: float, stdin: bytes = b"") -> ShellResult:
        """Run ``script`` with ``/bin/sh -c`` (after the setup) and wait for it.

        Raises:
            AccessError: ``/bin/sh`` cannot be started, or the script outlived ``timeout``.
        """
        try:
            done = subprocess.run(["/bin/sh", "-c", with_setup(self._setup, script)],
                                  input=stdin, capture_output=True, timeout=timeout,
                                  env=self._env, check=False)
        except subprocess.TimeoutExpired:
            raise AccessError(f"{self.name}: a Slurm command did not finish within "
                              f"{timeout:g} s; is the controller overloaded?") from None
        except OSError as exc:
            raise AccessError(f"{self.name}: cannot run /bin/sh: {exc}") from None
        return ShellResult(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    def submit(self, trial_dir: str, snapshot: Snapshot, files: Sequence[PayloadFile],
               options: Sequence[str], restore_from: str | None = None) -> int:
        """See :meth:`ClusterAccess.submit`."""
        folder = Path(trial_dir)
        try:
            if folder.exists():
                shutil.rmtree(folder)  # a stale directory of the same trial id
            folder.mkdir(mode=0o700, parents=True)
            folder.chmod(0o700)  # only the user: its params, code and log (whatever the umask)
            unpack_snapshot(snapshot, folder / "code")
            archive = None
            for item in files:
                if item.path == RESTORE_ARCHIVE:
                    archive = item.data
                    continue
                path = folder / item.path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(item.data)
                path.chmod(item.mode)
            if archive is not None:  # PBT: a checkpoint brought from another host
                unpack_folder(archive, folder / RESTORE_DIR)
            elif restore_from is not None:  # PBT: the donor's checkpoint on this cluster
                try:
                    shutil.copytree(restore_from, folder / RESTORE_DIR, symlinks=True)
                except OSError as exc:
                    raise OSError(f"cannot copy the checkpoint {restore_from}: {exc}") from None
            (folder / LOG_FILE).touch()
        except (OSError, ValueError) as exc:
            raise SubmitFailed(f"cannot prepare the trial directory {trial_dir}: {exc}") from None
        if self._setup.strip():
            result = self.run(sbatch_script(trial_dir, options), timeout=60.0)
        else:  # no shell needed: one process, as a bare sbatch
            result = self._sbatch(trial_dir, options)
        if result.exit_code != 0:
            raise SubmitFailed(setup_failure(result, "sbatch"))
        try:
            job_id = (parse_job_id(result.stdout) if self._setup.strip()
                      else parse_parsable(result.stdout))
            if not self._setup.strip():
                (folder / JOB_ID_FILE).write_text(f"{job_id}\n", encoding="ascii")
        except (ValueError, OSError) as exc:
            raise SubmitFailed(str(exc)) from None
        return job_id

    def _sbatch(self, trial_dir: str, options: Sequence[str]) -> ShellResult:
        try:
            done = subprocess.run(["sbatch", *options, JOB_FILE], cwd=trial_dir,
                                  capture_output=True, timeout=60.0, env=self._env,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise AccessError(f"{self.name}: sbatch did not finish within 60 s; is the "
                              "controller overloaded?") from None
        except OSError as exc:
            raise SubmitFailed(f"cannot run sbatch: {exc.strerror or exc} (is Slurm's client "
                               "installed here, or is a setup command such as `module load "
                               "slurm` needed?)") from None
        return ShellResult(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """Plain file reads, ``exit_code`` before the log (see :func:`read_script`)."""
        return [_read_dir(request) for request in requests]

    def close(self) -> None:
        """Nothing to release."""


def _read_dir(request: ReadRequest) -> ReadResult:
    folder = Path(request.trial_dir)
    if not folder.is_dir():
        return ReadResult(request.key, missing=True)
    exit_code = _small_int(folder / EXIT_CODE_FILE)
    has_pid = _non_empty(folder / PID_FILE)
    job_id = _small_int(folder / JOB_ID_FILE)
    data = b""
    try:
        with (folder / LOG_FILE).open("rb") as log:
            log.seek(request.offset)
            data = log.read(request.limit)
    except OSError:
        pass
    return ReadResult(request.key, data, exit_code, has_pid, job_id)


def _small_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _non_empty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False
