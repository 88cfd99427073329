"""Code snapshots: which files go in, determinism, commit and dirty, refusals."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from remote_support import git, write

from app.engine.records import Snapshot
from app.remote.snapshot import is_ignored, parse_ignore, take_snapshot, unpack_snapshot


def members(snapshot: Snapshot) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(snapshot.archive, "r:gz") as tar:
        return {info.name: info for info in tar.getmembers()}


def content(snapshot: Snapshot, name: str) -> bytes:
    with tarfile.open(snapshot.archive, "r:gz") as tar:
        extracted = tar.extractfile(name)
        assert extracted is not None
        return extracted.read()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with a commit, then: a modified, a deleted, an untracked and ignored files."""
    code = tmp_path / "code"
    write(code / "train.py", "print('v1')\n", 0o755)
    write(code / "old.py", "old\n")
    write(code / "pkg" / "model.py", "model\n")
    write(code / ".gitignore", "*.log\ndata/\n")
    write(code / ".sweeplabignore", "# big things\nsecret*\n/notes/\n*.ckpt\n")
    write(code / "notes" / "n.txt", "committed but sweeplab-ignored\n")
    git(code, "init", "-q")
    git(code, "add", "-A")
    git(code, "commit", "-qm", "first")
    write(code / "train.py", "print('v2')\n")  # modified
    (code / "old.py").unlink()  # deleted
    write(code / "new.py", "new\n")  # untracked, not ignored
    write(code / "run.log", "ignored by git\n")
    write(code / "data" / "x.bin", b"\0" * 100)
    write(code / "secret.txt", "ignored by .sweeplabignore\n")
    write(code / "pkg" / "w.ckpt", "ignored at any depth\n")
    return code


def test_git_tree_with_uncommitted_changes(repo: Path, tmp_path: Path) -> None:
    snap = take_snapshot(repo, tmp_path / "snaps")
    assert sorted(members(snap)) == [".gitignore", ".sweeplabignore", "new.py",
                                     "pkg/model.py", "train.py"]
    assert content(snap, "train.py") == b"print('v2')\n"
    assert snap.commit == git(repo, "rev-parse", "HEAD").strip()
    assert snap.dirty is True
    assert members(snap)["train.py"].mode == 0o755
    assert snap.archive == tmp_path / "snaps" / f"{snap.content_hash}.tar.gz"


def test_git_head_only(repo: Path, tmp_path: Path) -> None:
    snap = take_snapshot(repo, tmp_path / "snaps", include_uncommitted=False)
    assert sorted(members(snap)) == [".gitignore", ".sweeplabignore", "old.py",
                                     "pkg/model.py", "train.py"]
    assert content(snap, "train.py") == b"print('v1')\n"
    assert members(snap)["train.py"].mode == 0o755
    assert snap.dirty is False and snap.commit is not None


def test_clean_tree_and_changes_only_in_ignored_files_are_not_dirty(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "checkout", "-q", "--", "old.py", "train.py")
    (repo / "new.py").unlink()
    assert take_snapshot(repo, tmp_path / "s").dirty is False
    write(repo / "notes" / "n.txt", "edited, but sweeplab ignores notes/\n")
    assert take_snapshot(repo, tmp_path / "s").dirty is False
    write(repo / "pkg" / "model.py", "edited\n")
    assert take_snapshot(repo, tmp_path / "s").dirty is True


def test_subdirectory_of_a_repo(repo: Path, tmp_path: Path) -> None:
    snap = take_snapshot(repo / "pkg", tmp_path / "s")
    # .sweeplabignore is read at the top of the code directory, not of the repo
    assert sorted(members(snap)) == ["model.py", "w.ckpt"]
    assert snap.dirty is True
    head = take_snapshot(repo / "pkg", tmp_path / "s", include_uncommitted=False)
    assert sorted(members(head)) == ["model.py"]


def test_repo_without_commit(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "a.py", "a\n")
    git(code, "init", "-q")
    snap = take_snapshot(code, tmp_path / "s")
    assert sorted(members(snap)) == ["a.py"] and snap.commit is None and snap.dirty is True
    with pytest.raises(ValueError, match="no commit yet"):
        take_snapshot(code, tmp_path / "s", include_uncommitted=False)


def test_plain_folder_takes_all_files_but_ignored_and_dest(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "a.py", "a\n")
    write(code / "sub" / "b.txt", "b\n")
    write(code / "run.log", "plain folders have no .gitignore\n")
    write(code / "secret.key", "x\n")
    write(code / ".sweeplabignore", "*.key\n")
    snap = take_snapshot(code, code / "snapshots")  # archives inside the code dir
    assert sorted(members(snap)) == [".sweeplabignore", "a.py", "run.log", "sub/b.txt"]
    assert snap.commit is None and snap.dirty is False
    again = take_snapshot(code, code / "snapshots")
    assert again.content_hash == snap.content_hash  # the first archive did not go in


def test_same_content_same_hash_and_archive_reused(tmp_path: Path) -> None:
    for name in ("one", "two"):
        write(tmp_path / name / "a.py", "same\n")
        write(tmp_path / name / "d" / "b.py", "also same\n", 0o755)
    os.utime(tmp_path / "two" / "a.py", (1, 1))
    dest = tmp_path / "snaps"
    first = take_snapshot(tmp_path / "one", dest)
    second = take_snapshot(tmp_path / "two", dest)
    assert first == second
    assert list(dest.iterdir()) == [first.archive]
    write(tmp_path / "two" / "a.py", "different\n")
    assert take_snapshot(tmp_path / "two", dest).content_hash != first.content_hash
    with tarfile.open(first.archive, "r:gz") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert {(i.mtime, i.uid, i.gid, i.uname) for i in infos} == {(0, 0, 0, "")}
    assert first.archive.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime


def test_unpack_keeps_modes_and_links(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "run.sh", "#!/bin/sh\necho hi\n", 0o755)
    write(code / "lib" / "x.py", "x = 1\n")
    (code / "link.py").symlink_to("lib/x.py")
    snap = take_snapshot(code, tmp_path / "s")
    target = tmp_path / "out"
    unpack_snapshot(snap, target)
    assert os.access(target / "run.sh", os.X_OK)
    assert (target / "link.py").is_symlink() and (target / "link.py").read_text() == "x = 1\n"


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        take_snapshot(tmp_path / "missing", tmp_path / "s")
    write(tmp_path / "file.py", "x\n")
    with pytest.raises(ValueError, match="is not a directory"):
        take_snapshot(tmp_path / "file.py", tmp_path / "s")
    code = tmp_path / "code"
    write(code / "weights.bin", b"w" * 5000)
    write(code / "small.py", "x\n")
    with pytest.raises(ValueError, match=r"over the 0\.0 MB limit.*weights\.bin \(0\.0 MB\)"
                       r".*\.sweeplabignore"):
        take_snapshot(code, tmp_path / "s", max_bytes=1000)
    with pytest.raises(ValueError, match="does not exist"):
        unpack_snapshot(Snapshot(tmp_path / "nope.tar.gz", "0", None, False), tmp_path / "t")
    write(tmp_path / "bad.tar.gz", b"not a tarball")
    with pytest.raises(ValueError, match="cannot unpack"):
        unpack_snapshot(Snapshot(tmp_path / "bad.tar.gz", "0", None, False), tmp_path / "t")


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("*.ckpt", "a/b/w.ckpt", True),
        ("*.ckpt", "w.ckpt.txt", False),
        ("data", "data/x/y.bin", True),
        ("data", "src/data", True),
        ("data/", "data", False),  # directories only
        ("data/", "src/data/y", True),
        ("/logs", "logs/a.txt", True),
        ("/logs", "src/logs/a.txt", False),  # anchored
        ("runs/**/*.pt", "runs/1/2/m.pt", True),
        ("build/\n!build/keep.txt", "build/keep.txt", True),  # git: no re-include
        ("build/*\n!build/keep.txt", "build/keep.txt", False),
        ("build/\n!build/keep.txt", "build/other.txt", True),
        ("# comment\n\n", "# comment", False),
    ],
)
def test_ignore_patterns(patterns: str, path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_ignore(patterns)) is ignored


# Where the old ".sweeplabignore" dialect and gitignore disagreed (issue 15.15).
_DIALECT_CASES = [
    ("runs/*.pt", ["runs/m.pt", "runs/a/m.pt"]),  # * does not cross /
    ("runs/**/*.pt", ["runs/m.pt", "runs/a/b/m.pt", "other/m.pt"]),  # ** matches no folder too
    ("logs/\n!logs/keep.txt", ["logs/keep.txt", "logs/other.txt"]),  # no re-include
    ("logs/*\n!logs/keep.txt", ["logs/keep.txt", "logs/other.txt"]),
    ("\\#notes\n\\!bang", ["#notes", "!bang", "notes"]),  # escaped # and !
    ("doc/*.txt", ["doc/a.txt", "src/doc/a.txt"]),  # a middle / anchors
    ("*.log  ", ["a.log", "b/c.log"]),  # trailing spaces dropped
    ("a/**/b", ["a/b", "a/x/y/b", "c/a/b"]),
    ("data/**\n!data/keep.txt", ["data/keep.txt", "data/x.bin"]),  # data itself not excluded
    ("*\n!*/\n!*.py", ["a.py", "b.txt", "src/c.py", "src/d.txt"]),  # keep only .py files
    ("src\n!src/a.py", ["src/a.py", "src/b.py", "a.py"]),
    ("sub/\n!sub/", ["sub/a.py"]),
]


@pytest.mark.parametrize(("patterns", "paths"), _DIALECT_CASES)
def test_sweeplabignore_agrees_with_git(tmp_path: Path, patterns: str, paths: list[str]) -> None:
    """The same text as .gitignore (git decides) and as .sweeplabignore (we decide)."""
    code = tmp_path / "code"
    for rel in paths:
        write(code / rel, "x\n")
    write(code / ".gitignore", patterns + "\n")
    git(code, "init", "-q")
    kept_by_git = set(git(code, "ls-files", "--others", "--exclude-standard").splitlines())
    expected = sorted(p for p in paths if p in kept_by_git)
    (code / ".gitignore").rename(code / ".sweeplabignore")
    plain = tmp_path / "plain"
    (code / ".git").rename(tmp_path / "dotgit")  # outside git: only .sweeplabignore applies
    code.rename(plain)
    snap = take_snapshot(plain, tmp_path / "snaps")
    assert sorted(m for m in members(snap) if m != ".sweeplabignore") == expected
