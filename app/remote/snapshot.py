"""Code snapshots: the experiment's code directory as one deterministic archive.

:func:`take_snapshot` packs the code directory into ``dest_dir/<sha256>.tar.gz``;
:func:`unpack_snapshot` gives every trial its own copy.

Which files go in:

- In a git work tree: the files of ``HEAD`` under the code directory, plus, when
  ``include_uncommitted`` is true, the working-tree versions of modified files and
  untracked files that ``.gitignore`` does not exclude (``git ls-files --cached
  --others --exclude-standard``); deleted files are left out. ``commit`` is the
  ``HEAD`` hash (None before the first commit) and ``dirty`` says whether the
  snapshot differs from ``HEAD``, i.e. whether any uncommitted change (modified,
  staged, deleted or untracked-not-ignored file) survives the ignore file below.
  Submodules are not followed.
- Outside git: every file under the directory (``.git`` folders aside), commit
  None, dirty False.
- Symbolic links are archived as links, never followed.

``.sweeplabignore`` (at the top of the code directory) narrows either set. It is
read with git's own rules for a ``.gitignore`` (pathspec's ``GitIgnoreSpec``), so
a pattern means there what it means in ``.gitignore``: ``*`` never crosses ``/``
(``runs/**/*.pt`` does, and also matches ``runs/m.pt``), a pattern with a ``/``
before its end is anchored at the code directory, a backslash escapes a leading
``#`` or ``!``, and a file inside an excluded directory cannot be re-included by
``!`` (exclude ``logs/*`` rather than ``logs/`` to keep ``!logs/keep.txt``).

The archive is reproducible: names sorted, mtimes 0, owners root, modes 0644 or
0755, gzip header time 0. Equal content gives an equal hash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pathspec import GitIgnoreSpec

from app.engine.records import Snapshot

IGNORE_FILE = ".sweeplabignore"
DEFAULT_MAX_BYTES = 200 * 1000 * 1000
_CHUNK = 1 << 20
_BIGGEST_SHOWN = 5
_LINK_MODE = "120000"
Progress = Callable[[int, int], None]
"""Called with (done, total) as a long action advances."""


@dataclass(frozen=True, order=True)
class _TreeRow:
    path: str
    mode: str
    oid: str
    size: int


@dataclass(frozen=True)
class _Entry:
    """One archive member: a regular file (``size`` bytes) or a link (``link``)."""

    path: str
    size: int
    executable: bool
    link: str | None
    open: Callable[[], IO[bytes]] | None


class IgnoreSpec:
    """The patterns of one ignore file, applied with git's rules.

    A file is decided by pathspec's ``GitIgnoreSpec`` (last matching pattern wins,
    ``*`` stops at ``/``, escapes, anchoring). What ``GitIgnoreSpec`` leaves out is
    git's rule for folders: a file inside an excluded folder stays excluded whatever
    later patterns say about the file, so each folder on the way down is decided
    first, by the patterns that match a folder (``logs``, ``logs/``, not ``logs/**``).
    """

    def __init__(self, text: str) -> None:
        lines = text.splitlines()
        self._files = GitIgnoreSpec.from_lines(lines)
        self._dir_rules = [rule for rule in map(_dir_rule, lines) if rule is not None]
        self._dirs: dict[str, bool] = {}

    def ignores(self, rel_path: str) -> bool:
        """Whether the file ``rel_path`` (posix, relative to the code directory) is excluded."""
        parts = rel_path.split("/")
        if any(self._ignores_dir("/".join(parts[:n])) for n in range(1, len(parts))):
            return True
        return bool(self._files.match_file(rel_path))

    def _ignores_dir(self, rel_dir: str) -> bool:
        if rel_dir not in self._dirs:
            verdict = False
            for negate, spec in self._dir_rules:  # the last matching pattern decides
                if spec.match_file(rel_dir):
                    verdict = not negate
            self._dirs[rel_dir] = verdict
        return self._dirs[rel_dir]


def _dir_rule(line: str) -> tuple[bool, GitIgnoreSpec] | None:
    """One line as a (negated, pattern) matching a folder's own path, or None for none."""
    body = line.rstrip(" ") if not line.endswith("\\ ") else line
    negate = body.startswith("!")
    body = body[1:] if negate else body
    body = body[:-1] if body.endswith("/") else body  # "logs/": folders only, as here
    if not body or body.startswith("#"):
        return None
    return negate, GitIgnoreSpec.from_lines([body])


def parse_ignore(text: str) -> IgnoreSpec:
    """The patterns of a ``.sweeplabignore`` file, read with gitignore's rules."""
    return IgnoreSpec(text)


def is_ignored(rel_path: str, spec: IgnoreSpec) -> bool:
    """Whether the file ``rel_path`` (posix, relative to the code directory) is excluded."""
    return spec.ignores(rel_path)


def take_snapshot(
    code_dir: Path,
    dest_dir: Path,
    include_uncommitted: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> Snapshot:
    """Pack ``code_dir`` into ``dest_dir/<content hash>.tar.gz`` (reused if present).

    Args:
        code_dir: the experiment's code directory (a git work tree or a plain folder).
        dest_dir: where archives are kept; created if missing.
        include_uncommitted: in git, add modified and untracked-not-ignored files.
        max_bytes: refuse snapshots whose files add up to more than this.
        progress: called with (bytes packed, bytes in all) as files are packed.

    Returns:
        The :class:`Snapshot` with the archive path, sha256 of the archive, commit, dirty.

    Raises:
        ValueError: ``code_dir`` is missing or not a directory, git refuses it (another
            owner), or the files exceed ``max_bytes`` (the message names the biggest).
    """
    code_dir = Path(code_dir)
    if not code_dir.exists():
        raise ValueError(f"code directory {code_dir} does not exist")
    if not code_dir.is_dir():
        raise ValueError(f"code directory {code_dir} is not a directory")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    code_dir = code_dir.resolve()
    dest_dir = Path(dest_dir).resolve()
    ignore_file = code_dir / IGNORE_FILE
    ignore_text = ignore_file.read_text("utf-8", "replace") if ignore_file.is_file() else ""
    ignore = parse_ignore(ignore_text)
    inside = dest_dir.is_relative_to(code_dir) and dest_dir != code_dir
    skip_dest = dest_dir.relative_to(code_dir).as_posix() if inside else None

    def keep(rel: str) -> bool:
        if skip_dest is not None and (rel == skip_dest or rel.startswith(skip_dest + "/")):
            return False
        return not is_ignored(rel, ignore)

    git = _Git(code_dir)
    commit: str | None = None
    dirty = False
    if git.is_work_tree():
        commit = git.head()
        if include_uncommitted:
            entries = _working_tree_entries(code_dir, git.list_files(), keep)
            _check_size(code_dir, entries, max_bytes)
            dirty = any(keep(rel) for rel in git.changed_files())
        elif commit is None:
            raise ValueError(
                f"{code_dir} has no commit yet: commit the code or include uncommitted changes"
            )
        else:
            rows = git.head_rows(keep)
            _check_size(code_dir, [_Entry(r.path, r.size, False, None, None) for r in rows],
                        max_bytes)
            entries = git.head_entries(rows)
    else:
        entries = _walk_entries(code_dir, keep)
        _check_size(code_dir, entries, max_bytes)
    dest_dir.mkdir(parents=True, exist_ok=True)
    archive, content_hash = _write_archive(entries, dest_dir, progress)
    return Snapshot(archive=archive, content_hash=content_hash, commit=commit, dirty=dirty)


def unpack_snapshot(snapshot: Snapshot, target_dir: Path) -> None:
    """Extract the snapshot's files into ``target_dir`` (created if missing).

    Raises:
        ValueError: the archive is missing or not a readable tar.gz.
    """
    if not snapshot.archive.is_file():
        raise ValueError(f"snapshot archive {snapshot.archive} does not exist")
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(snapshot.archive, "r:gz") as tar:
            tar.extractall(target_dir, filter="tar")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"cannot unpack snapshot {snapshot.archive}: {exc}") from exc


def _file_entry(code_dir: Path, rel: str) -> _Entry | None:
    full = code_dir / rel
    try:
        st = full.lstat()
    except FileNotFoundError:
        return None  # deleted in the working tree
    if stat.S_ISLNK(st.st_mode):
        return _Entry(rel, 0, False, os.readlink(full), None)
    if not stat.S_ISREG(st.st_mode):
        return None  # a submodule or other special file
    return _Entry(rel, st.st_size, bool(st.st_mode & 0o111), None, _file_opener(full))


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _working_tree_entries(
    code_dir: Path, names: Sequence[str], keep: Callable[[str], bool]
) -> list[_Entry]:
    entries = (_file_entry(code_dir, rel) for rel in sorted(set(names)) if keep(rel))
    return [entry for entry in entries if entry is not None]


def _walk_entries(code_dir: Path, keep: Callable[[str], bool]) -> list[_Entry]:
    names: list[str] = []
    for root, dirs, files in os.walk(code_dir):
        rel_root = Path(root).relative_to(code_dir)
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            names.append((rel_root / name).as_posix())
    return _working_tree_entries(code_dir, names, keep)


def _check_size(code_dir: Path, entries: Sequence[_Entry], max_bytes: int) -> None:
    total = sum(entry.size for entry in entries)
    if total <= max_bytes:
        return
    biggest = sorted(entries, key=lambda e: (-e.size, e.path))[:_BIGGEST_SHOWN]
    listed = ", ".join(f"{e.path} ({_mb(e.size)})" for e in biggest)
    raise ValueError(
        f"code snapshot of {code_dir} is {_mb(total)}, over the {_mb(max_bytes)} limit; "
        f"biggest files: {listed}; add what the trials do not need to "
        f"{code_dir / IGNORE_FILE}"
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _write_archive(entries: Sequence[_Entry], dest_dir: Path,
                   progress: Progress | None = None) -> tuple[Path, str]:
    total = sum(entry.size for entry in entries)
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".snapshot-", suffix=".tmp", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for entry in entries:
                _add(tar, entry)
                done += entry.size
                if progress is not None:
                    progress(done, total)
        digest = hashlib.sha256()
        with tmp.open("rb") as f:
            while block := f.read(_CHUNK):
                digest.update(block)
        content_hash = digest.hexdigest()
        final = dest_dir / f"{content_hash}.tar.gz"
        if final.exists():
            tmp.unlink()
        else:
            os.replace(tmp, final)
        return final, content_hash
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _add(tar: tarfile.TarFile, entry: _Entry) -> None:
    info = tarfile.TarInfo(entry.path)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.link is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = entry.link
        info.mode = 0o777
        tar.addfile(info)
        return
    if entry.open is None:
        raise ValueError(f"snapshot member {entry.path} has no content")
    info.mode = 0o755 if entry.executable else 0o644
    with entry.open() as f:
        data = f.read()
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


class _Git:
    """The few git queries a snapshot needs, run in the code directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            self.env.pop(name, None)

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args], cwd=self.cwd, env=self.env, capture_output=True, check=False
        )

    def _lines(self, *args: str) -> list[str]:
        result = self._run(*args)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise ValueError(f"git {' '.join(args)} failed in {self.cwd}: {message}")
        return [name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0")
                if name]

    def is_work_tree(self) -> bool:
        try:
            result = self._run("rev-parse", "--is-inside-work-tree")
        except FileNotFoundError:
            return False  # git is not installed: a plain folder
        if b"dubious ownership" in result.stderr:  # never silently drop .gitignore
            message = result.stderr.decode(errors="replace").strip()
            raise ValueError(f"git refuses to read {self.cwd}: {message}")
        return result.returncode == 0 and result.stdout.strip() == b"true"

    def head(self) -> str | None:
        result = self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def list_files(self) -> list[str]:
        return self._lines("ls-files", "-z", "--cached", "--others", "--exclude-standard")

    def changed_files(self) -> list[str]:
        """Files that differ from HEAD, relative to the code directory."""
        untracked = self._lines("ls-files", "-z", "--others", "--exclude-standard")
        if self.head() is None:
            return untracked + self._lines("ls-files", "-z", "--cached")
        return untracked + self._lines("diff", "--name-only", "-z", "--relative", "HEAD", "--")

    def head_rows(self, keep: Callable[[str], bool]) -> list[_TreeRow]:
        """The blobs of HEAD under the code directory that ``keep`` accepts, by path."""
        rows: list[_TreeRow] = []
        for line in self._lines("ls-tree", "-r", "-z", "-l", "HEAD"):
            meta, path = line.split("\t", 1)
            mode, kind, oid, size = meta.split()
            if kind == "blob" and keep(path):
                rows.append(_TreeRow(path, mode, oid, 0 if mode == _LINK_MODE else int(size)))
        return sorted(rows)

    def head_entries(self, rows: Sequence[_TreeRow]) -> list[_Entry]:
        """Members for ``rows``, their contents read from git (held in memory)."""
        entries: list[_Entry] = []
        for row, data in zip(rows, self._read_blobs([r.oid for r in rows]), strict=True):
            if row.mode == _LINK_MODE:
                target = data.decode("utf-8", "surrogateescape")
                entries.append(_Entry(row.path, 0, False, target, None))
            else:
                executable = row.mode == "100755"
                entries.append(_Entry(row.path, row.size, executable, None, _bytes_opener(data)))
        return entries

    def _read_blobs(self, oids: Sequence[str]) -> list[bytes]:
        """Blob contents in order, through one ``git cat-file --batch``."""
        result = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=self.cwd, env=self.env, check=False,
            input="".join(oid + "\n" for oid in oids).encode(), capture_output=True,
        )
        out, pos, blobs = result.stdout, 0, []
        for _ in oids:
            eol = out.index(b"\n", pos)
            header = out[pos:eol].split()
            if len(header) != 3:
                raise ValueError(f"git cat-file gave an unexpected header {header!r}")
            size = int(header[2])
            blobs.append(out[eol + 1 : eol + 1 + size])
            pos = eol + 2 + size  # content plus its trailing newline
        return blobs


def _bytes_opener(data: bytes) -> Callable[[], IO[bytes]]:
    return lambda: io.BytesIO(data)
