"""Code snapshots go to a server once per connection, to a temporary name first; an
archive that cannot be read or written is refused in plain words."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.records import Snapshot
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.session import ServerSession
from app.remote.ssh.uploads import SnapshotUploadFailed, SnapshotUploads


@pytest.fixture
def session(profile: ServerProfile, known_hosts: KnownHosts) -> Iterator[ServerSession]:
    opened = ServerSession(profile, Secrets(), known_hosts, connect_timeout=10.0)
    opened.start()
    assert opened.wait_online(30), "the test server did not answer"
    yield opened
    opened.close()


def test_a_snapshot_is_sent_once_and_checked_again_when_forgotten(
        session: ServerSession, snap: Snapshot, tmp_path: Path) -> None:
    uploads = SnapshotUploads("lab1", session)
    target = tmp_path / "remote" / "code.tar.gz"
    target.parent.mkdir()
    uploads.ensure(snap, str(target))
    uploads.ensure(snap, str(target))
    assert uploads.count == 1 and target.read_bytes() == snap.archive.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["code.tar.gz"], "no part file left"
    uploads.forget(snap)
    uploads.ensure(snap, str(target))  # there with the right size: kept
    assert uploads.count == 1
    target.write_bytes(b"half")
    uploads.forget(snap)
    uploads.ensure(snap, str(target))  # the wrong size: sent again
    assert uploads.count == 2 and target.read_bytes() == snap.archive.read_bytes()


def test_an_unreadable_archive_or_an_unwritable_place_is_named(
        session: ServerSession, snap: Snapshot, tmp_path: Path) -> None:
    uploads = SnapshotUploads("lab1", session)
    gone = dataclasses.replace(snap, archive=tmp_path / "gone.tar.gz")
    with pytest.raises(SnapshotUploadFailed,
                       match=rf"snapshot archive {tmp_path}/gone.tar.gz cannot be read: "
                             "No such file or directory"):
        uploads.ensure(gone, str(tmp_path / "x.tar.gz"))
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(SnapshotUploadFailed,
                       match=rf"cannot upload the code snapshot to lab1:{blocked}/x.tar.gz "
                             r"\(.*\); is the disk full, or the work directory not writable"):
        uploads.ensure(snap, f"{blocked}/x.tar.gz")
    assert uploads.count == 0 and session.online, "a refused upload leaves the link up"
