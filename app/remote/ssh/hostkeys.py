"""Which host keys we trust: :class:`KnownHosts`, and OpenSSH SHA256 fingerprints.

Two files in OpenSSH ``known_hosts`` format are consulted: Sweeplab's own (the only
one ever written; mode 0600 in a 0700 folder) and, read-only, the user's
``~/.ssh/known_hosts``, so servers the user already reached with ``ssh`` need no new
confirmation. Hosts are named as OpenSSH names them: ``host`` on port 22,
``[host]:port`` elsewhere. Hashed names (``|1|salt|hash``) and ``*``/``?`` patterns
(with ``!`` negation) are understood. Marker lines (``@cert-authority``,
``@revoked``) are skipped: certificates are not supported.

A key is trusted when one line for the host holds exactly that key. A host with a
stored key of the same type but other bytes has *changed* (refused, never overridden
here); a host with no key of that type is *unknown* (the caller shows the
fingerprint and may :meth:`KnownHosts.accept` it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from app.remote.ssh.errors import ConnectFailed, HostKeyChanged, UnknownHostKey

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_FILE = Path("~/.ssh/known_hosts").expanduser()
SSH_PORT = 22


def host_key_name(host: str, port: int) -> str:
    """The name OpenSSH files a host's key under: ``host``, or ``[host]:port`` off 22."""
    return host if port == SSH_PORT else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as OpenSSH prints it: ``SHA256:`` + unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class _Entry:
    """One usable line of a known_hosts file."""

    patterns: tuple[str, ...]
    key: paramiko.PKey

    def matches(self, name: str) -> bool:
        return _patterns_match(self.patterns, name)


def _patterns_match(patterns: tuple[str, ...], name: str) -> bool:
    """Whether a line's host patterns name ``name`` (a negated match wins)."""
    found = False
    for pattern in patterns:
        if pattern.startswith("|1|"):
            found = found or _hashed_matches(pattern, name)
        elif pattern.startswith("!"):
            if _wildcard(pattern[1:]).fullmatch(name):
                return False
        elif _wildcard(pattern).fullmatch(name):
            found = True
    return found


def _wildcard(pattern: str) -> re.Pattern[str]:
    """An OpenSSH host pattern (only ``*`` and ``?`` are special; ``[`` is literal)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE)


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        return bool(paramiko.HostKeys.hash_host(name, pattern) == pattern)
    except (binascii.Error, AssertionError, ValueError, IndexError):
        return False


def _read_entries(path: Path) -> list[_Entry]:
    """The usable lines of one file; a missing file has none, bad lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot read known hosts file %s: %s", path, exc)
        return []
    entries: list[_Entry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "@")):
            continue
        try:
            parsed = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError) as exc:
            log.debug("%s line %d skipped: %s", path, number, exc)
            continue
        if parsed is not None and parsed.key is not None:
            entries.append(_Entry(tuple(parsed.hostnames), parsed.key))
    return entries


class KnownHosts:
    """Sweeplab's known_hosts file, plus the user's own as a read-only source.

    Args:
        path: Sweeplab's own file (created on the first :meth:`accept`).
        system_file: the user's ``known_hosts``, only read; None to ignore it.

    Thread safety: methods may be called from any thread; files are re-read on each
    :meth:`check`, so a key accepted by another process is seen at once.
    """

    def __init__(self, path: Path, *, system_file: Path | None = DEFAULT_SYSTEM_FILE) -> None:
        self.path = Path(path).expanduser()
        self.system_file = Path(system_file).expanduser() if system_file is not None else None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KnownHosts({str(self.path)!r}, system_file={self.system_file!r})"

    def _sources(self) -> list[tuple[Path, list[_Entry]]]:
        files = [self.path] if self.system_file is None else [self.path, self.system_file]
        return [(path, _read_entries(path)) for path in files]

    def known_types(self, host: str, port: int) -> list[str]:
        """Key types stored for the host, ours first; for the key-type negotiation."""
        name = host_key_name(host, port)
        types: list[str] = []
        for _, entries in self._sources():
            for entry in entries:
                if entry.matches(name) and entry.key.get_name() not in types:
                    types.append(entry.key.get_name())
        return types

    def check(self, host: str, port: int, key: paramiko.PKey, *, server: str | None = None) -> None:
        """Return if ``key`` is a trusted key of ``host:port``.

        Args:
            host, port: where the key came from.
            key: the key the server offered.
            server: the name used in messages (default ``host:port``).

        Raises:
            HostKeyChanged: a different key of the same type is stored for the host.
            UnknownHostKey: no key of this type is stored; show ``.fingerprint``.
        """
        server = server or f"{host}:{port}"
        name = host_key_name(host, port)
        offered = key.asbytes()
        changed: tuple[Path, _Entry] | None = None
        other_types: list[str] = []
        for path, entries in self._sources():
            for entry in entries:
                if not entry.matches(name):
                    continue
                if entry.key.asbytes() == offered:
                    return
                if entry.key.get_name() == key.get_name():
                    changed = changed or (path, entry)
                elif entry.key.get_name() not in other_types:
                    other_types.append(entry.key.get_name())
        if changed is not None:
            path, entry = changed
            log.warning("%s: host key of %s changed (stored in %s)", server, name, path)
            raise HostKeyChanged(server, host, port, key, fingerprint(key),
                                 fingerprint(entry.key), str(path))
        raise UnknownHostKey(server, host, port, key, fingerprint(key), tuple(other_types))

    def accept(self, host: str, port: int, key: paramiko.PKey) -> None:
        """Trust ``key`` for ``host:port`` from now on (appended to our own file).

        Raises:
            HostKeyChanged: another key of the same type is already stored: a changed
                key is never overridden here.
            OSError: the file cannot be written.
        """
        with self._lock:
            try:
                self.check(host, port, key)
                return  # already trusted
            except UnknownHostKey:
                pass
            line = f"{host_key_name(host, port)} {key.get_name()} {key.get_base64()}\n"
            _private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        log.info("accepted host key %s for %s", fingerprint(key), host_key_name(host, port))

    def forget(self, host: str, port: int) -> int:
        """Remove every line of our own file that names ``host:port``; returns how many.

        The user's own file is never changed (``ssh-keygen -R`` does that).

        Raises:
            OSError: the file cannot be rewritten.
        """
        name = host_key_name(host, port)
        with self._lock:
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            except FileNotFoundError:
                return 0
            kept = [line for line in lines if not _line_names(line, name)]
            if len(kept) == len(lines):
                return 0
            temp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(kept)
            os.replace(temp, self.path)
        return len(lines) - len(kept)


def _line_names(line: str, name: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "@")):
        return False
    return _patterns_match(tuple(stripped.split(None, 1)[0].split(",")), name)


def _private_dir(folder: Path) -> None:
    """Create ``folder`` (and parents) and make it 0700."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def fetch_host_key(host: str, port: int, timeout: float) -> paramiko.PKey:
    """The host key a server offers, without logging in (to show its fingerprint).

    Raises:
        ConnectFailed: the server cannot be reached or does not speak SSH.
    """
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectFailed(where, f"{where}: cannot connect ({exc.strerror or exc}); check "
                            "the host name and port, and that the server is on") from None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectFailed(where, f"{where}: no SSH server answered ({exc}); check the "
                            "port") from None
    finally:
        transport.close()
    return key
