"""A cluster's login node over SSH: :class:`SshAccess`.

It rides on :class:`~app.remote.ssh.session.ServerSession` (one kept-up connection,
reconnect with backoff, host keys checked) with the login node's saved server profile.
Scripts run in exec channels with raw byte output (log chunks are cut at byte
offsets, never decoded on the way); snapshots go up over SFTP once per content hash.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from app.engine.records import Snapshot
from app.remote.slurm.access import AccessError, ShellResult, SubmitFailed, setup_failure
from app.remote.slurm.commands import (
    ReadRequest,
    ReadResult,
    parse_job_id,
    parse_reads,
    q,
    read_script,
    restore_script,
    sbatch_script,
    unpack_script,
    with_setup,
)
from app.remote.ssh.connection import SshConnection
from app.remote.ssh.errors import CommandTimeout, SshError
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import PayloadFile, pack_payload
from app.remote.ssh.session import ServerSession
from app.remote.ssh.uploads import SnapshotUploadFailed, SnapshotUploads

SNAPSHOTS = "snapshots"
_SUBMIT_TIMEOUT_S = 120.0


class SshAccess:
    """The login node of a cluster, reached with a saved server profile.

    Args:
        name: the cluster's name, in messages.
        login: the login node's server profile.
        secrets: its password or key passphrase.
        known_hosts: trusted host keys.
        workdir: the cluster's work directory (``~`` is the login user's home).
        setup: shell code run before every script.
        connect_timeout: seconds for one connect attempt.

    Thread safety: every method may be called from any thread.
    """

    def __init__(self, name: str, login: ServerProfile, secrets: Secrets,
                 known_hosts: KnownHosts, workdir: str, setup: str = "", *,
                 connect_timeout: float = 10.0) -> None:
        self.name = name
        self.login = login
        self._workdir = workdir
        self._setup = setup
        self._timeout = connect_timeout
        self._session = ServerSession(login, secrets, known_hosts,
                                      connect_timeout=connect_timeout)
        self._lock = threading.Lock()
        self._uploads = SnapshotUploads(login.name, self._session)
        self._made: int | None = None  # the session generation the work dir was made in

    @property
    def uploads(self) -> int:
        """Snapshots actually sent (for tests)."""
        return self._uploads.count

    @property
    def online(self) -> bool:
        """The login node answers (starts connecting in the background)."""
        self._session.start()
        return self._session.online

    def connect(self, timeout: float) -> None:
        """Connect now and wait for one attempt.

        Raises:
            SshError: why the attempt failed (unknown host key, refused login...).
            AccessError: not online after ``timeout`` seconds.
        """
        if self._session.wait_attempt(timeout):
            return
        error = self._session.last_error
        if error is not None:
            raise error
        raise AccessError(f"{self.name}: the login node {self.login.name} did not answer "
                          f"within {timeout:g} s")

    @property
    def last_error(self) -> str:
        """Why the last connect attempt failed ("" when fine)."""
        error = self._session.last_error
        return str(error) if error is not None and not self._session.online else ""

    def workdir(self) -> str:
        """The work directory with ``~`` expanded (needs the connection)."""
        if self._session.hello is None or not self._session.online:
            raise AccessError(f"{self.name}: the login node {self.login.name} is offline")
        return self.expand(self._workdir).rstrip("/") or "/"

    def expand(self, path: str) -> str:
        """``path`` with a leading ``~`` made the login user's home (needs the connection)."""
        hello = self._session.hello
        if hello is None or not (path == "~" or path.startswith("~/")):
            return path
        return hello.home + path[1:]

    def run(self, script: str, *, timeout: float, stdin: bytes = b"") -> ShellResult:
        """Run ``script`` after the setup: on stdin to ``/bin/sh -s`` when there is no
        other input, else as ``/bin/sh -c``.

        Raises:
            AccessError: offline, the connection broke, or ``timeout`` passed.
        """
        text = with_setup(self._setup, script)
        if stdin:
            command, data = f"/bin/sh -c {q(text)}", stdin
        else:
            command, data = "/bin/sh -s", text.encode("utf-8")
        try:
            conn = self._session.main()
        except SshError as exc:
            raise AccessError(str(exc)) from None
        try:
            return _run_raw(conn, command, timeout, data)
        except AccessError:
            self._session.report_failure(conn)  # a dead connection marks the node offline
            raise
        except SshError as exc:
            self._session.report_failure(conn)
            raise AccessError(str(exc)) from None

    def submit(self, trial_dir: str, snapshot: Snapshot, files: Sequence[PayloadFile],
               options: Sequence[str], restore_from: str | None = None) -> int:
        """Upload the snapshot if needed, then make the directory (its ``restore/``
        too, see :meth:`ClusterAccess.submit`) and sbatch in one go."""
        archive = self._ensure_snapshot(snapshot)
        payload = pack_payload(list(files))
        script = (unpack_script(trial_dir, archive, len(payload))
                  + restore_script(trial_dir, restore_from)
                  + sbatch_script(trial_dir, options))
        result = self.run(script, timeout=_SUBMIT_TIMEOUT_S, stdin=payload)
        if result.exit_code in (4, 5):
            if result.exit_code == 5:
                self._forget(snapshot)  # deleted there? send it again next time
            raise SubmitFailed(f"cannot prepare the trial directory {trial_dir} on "
                               f"{self.login.name}: {result.stderr.strip()[:300]}")
        if result.exit_code != 0:
            raise SubmitFailed(setup_failure(result, "sbatch"))
        try:
            return parse_job_id(result.stdout)
        except ValueError as exc:
            raise SubmitFailed(str(exc)) from None

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """One script reads every directory."""
        if not requests:
            return []
        result = self.run(read_script(requests), timeout=60.0)
        try:
            return parse_reads(result.stdout)
        except ValueError as exc:
            raise AccessError(f"{self.name}: reading the trial directories failed: {exc} "
                              f"({result.stderr.strip()[:200]})") from None

    def close(self) -> None:
        """Close the connections."""
        self._session.close()

    # --- snapshots ---------------------------------------------------------------------

    def _forget(self, snapshot: Snapshot) -> None:
        self._uploads.forget(snapshot)

    def _ensure_snapshot(self, snapshot: Snapshot) -> str:
        """The archive's path there, uploaded unless present with the right size."""
        workdir = self.workdir()
        path = f"{workdir}/{SNAPSHOTS}/{snapshot.content_hash}.tar.gz"
        with self._lock:
            generation = self._session.generation
            if self._made != generation:
                made = self.run(f"mkdir -p -- {q(workdir)}/{SNAPSHOTS}", timeout=30.0)
                if made.exit_code != 0:
                    raise SubmitFailed(f"cannot create the work directory {workdir} on "
                                       f"{self.login.name}: {made.stderr.strip()[:300]}")
                self._made = generation
        try:
            self._uploads.ensure(snapshot, path)
        except SnapshotUploadFailed as exc:
            raise SubmitFailed(str(exc)) from None
        except SshError as exc:
            raise AccessError(str(exc)) from None
        return path


def _run_raw(conn: SshConnection, command: str, timeout: float, stdin: bytes) -> ShellResult:
    """``SshConnection.run_bytes`` as a ShellResult (stdout kept as bytes).

    Raises:
        AccessError: the command did not finish within ``timeout`` s.
        SshError: the connection broke.
    """
    try:
        status, out, err = conn.run_bytes(command, timeout=timeout, input=stdin)
    except CommandTimeout:
        raise AccessError(f"{conn.name}: a Slurm command did not finish within "
                          f"{timeout:g} s") from None
    return ShellResult(status, out, err.decode("utf-8", "replace"))
