"""A checkpoint carried between hosts: packed as a tar.gz, unpacked only inside the
trial's ``restore/`` folder."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from app.remote.launcher import pack_folder, unpack_folder


def test_a_folder_round_trips(tmp_path: Path) -> None:
    source = tmp_path / "checkpoints" / "6"
    (source / "nested").mkdir(parents=True)
    (source / "state.json").write_text('{"acc": 1}')
    (source / "nested" / "w.bin").write_bytes(b"\0\1\2")
    unpack_folder(pack_folder(source), tmp_path / "restore")
    assert (tmp_path / "restore" / "state.json").read_text() == '{"acc": 1}'
    assert (tmp_path / "restore" / "nested" / "w.bin").read_bytes() == b"\0\1\2"
    with pytest.raises(FileNotFoundError):
        pack_folder(tmp_path / "gone")


def _archive(name: str, kind: bytes = tarfile.REGTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        tar.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "kind"), [
    ("../escaped", tarfile.REGTYPE), ("/abs", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)])
def test_nothing_lands_outside_the_folder(tmp_path: Path, name: str, kind: bytes) -> None:
    with pytest.raises(OSError, match="not a plain file or folder inside it"):
        unpack_folder(_archive(name, kind), tmp_path / "restore")
    assert not (tmp_path / "escaped").exists()
    with pytest.raises(OSError, match="not a checkpoint archive"):
        unpack_folder(b"not gzip", tmp_path / "restore")
