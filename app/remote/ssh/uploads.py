"""Code snapshots on a server, uploaded once: :class:`SnapshotUploads`.

Trials of one experiment share one archive per content hash under the work
directory. It is sent over SFTP to a temporary name and renamed, so a half-sent
archive is never taken for a whole one; an archive already there with the right size
is kept. What was checked is remembered per connection (the session's generation):
after a reconnect, possibly to a server that was reinstalled, it is checked again.
"""

from __future__ import annotations

import logging
import threading
import uuid

import paramiko

from app.engine.records import Snapshot
from app.remote.ssh.errors import ConnectionLost
from app.remote.ssh.session import ServerSession

log = logging.getLogger(__name__)


class SnapshotUploadFailed(Exception):
    """The archive cannot be read here, or the server refused it (disk full,
    permissions): no trial with this snapshot can start there."""


class SnapshotUploads:
    """The snapshots one server has, as far as this connection knows.

    Args:
        name: the server's name, in messages.
        session: its connections; uploads go over the main one.
    """

    def __init__(self, name: str, session: ServerSession) -> None:
        self.name = name
        self._session = session
        self._lock = threading.Lock()
        self._checked: set[tuple[int, str]] = set()
        self.count = 0
        """Snapshots actually sent (for tests and benchmarks)."""

    def ensure(self, snapshot: Snapshot, path: str) -> None:
        """Upload the archive to ``path`` there unless it is there with the right size.

        Raises:
            SnapshotUploadFailed: the archive cannot be read, or the server refused it.
            ConnectionLost: the connection dropped (before or during the upload).
        """
        with self._lock:
            key = (self._session.generation, snapshot.content_hash)
            if key in self._checked:
                return
            try:
                size = snapshot.archive.stat().st_size
            except OSError as exc:
                raise SnapshotUploadFailed(f"snapshot archive {snapshot.archive} cannot be "
                                           f"read: {exc.strerror or exc}") from None
            conn = self._session.main()
            try:
                sftp = conn.sftp()
                try:
                    if sftp.stat(path).st_size == size:
                        self._checked.add(key)
                        return
                except FileNotFoundError:
                    pass
                temp = f"{path}.part-{uuid.uuid4().hex[:12]}"
                sftp.put(str(snapshot.archive), temp, confirm=True)
                sftp.posix_rename(temp, path)
            except (OSError, paramiko.SSHException, EOFError) as exc:
                if not conn.alive:
                    raise ConnectionLost(self.name, f"{self.name}: the connection dropped "
                                         "while uploading the code snapshot") from None
                raise SnapshotUploadFailed(f"cannot upload the code snapshot to {self.name}:"
                                           f"{path} ({exc}); is the disk full, or the work "
                                           "directory not writable?") from None
            self.count += 1
            self._checked.add(key)
            log.info("%s: uploaded snapshot %s (%d bytes)", self.name, path, size)

    def forget(self, snapshot: Snapshot) -> None:
        """Check (and if needed upload) this snapshot again next time."""
        with self._lock:
            self._checked = {key for key in self._checked if key[1] != snapshot.content_hash}
