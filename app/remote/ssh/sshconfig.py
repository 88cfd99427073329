"""Server profiles from an OpenSSH client config (``~/.ssh/config``).

Each concrete ``Host`` alias becomes one :class:`ServerProfile` with what OpenSSH
would use for it (``HostName``, ``Port``, ``User``, the first ``IdentityFile``),
resolved by paramiko's :class:`~paramiko.config.SSHConfig`. Patterns (``*``, ``?``,
``!``) are not servers and are skipped. Nothing in the file is ever run: ``Match
exec`` blocks are left out before paramiko sees the text.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from app.remote.ssh.profile import LOCAL_HOST, NAME_PATTERN, AuthKind, ServerProfile

DEFAULT_PATH = Path("~/.ssh/config")
_WILDCARD = re.compile(r"[*?!]")
_UNSUPPORTED = ("proxyjump", "proxycommand")
MAX_CONFIG_BYTES = 1024 * 1024
"""Largest ssh config read (a real one is a few kilobytes)."""


class SshConfigError(ValueError):
    """The ssh config cannot be read or parsed; the message names the file and line."""


@dataclass(frozen=True)
class SkippedHost:
    """A ``Host`` entry that gave no profile, and why.

    Attributes:
        line: the line of its first ``Host`` entry (0 when unknown).
        pattern: a wildcard pattern (not a server), rather than a host with a problem.
    """

    alias: str
    reason: str
    line: int = 0
    pattern: bool = False


@dataclass(frozen=True)
class SshConfigImport:
    """What :func:`scan_ssh_config` found.

    Attributes:
        profiles: one per concrete alias, with valid, distinct names.
        aliases: the ``Host`` alias each profile came from, by profile name.
        skipped: aliases that gave no profile (patterns, unsupported options, bad values).
        notes: file-level remarks, such as ``Match exec`` blocks left out.
    """

    path: Path
    profiles: list[ServerProfile] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedHost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def profile_name(alias: str, taken: set[str]) -> str:
    """A valid profile name for ``alias`` that is not in ``taken``.

    Characters a name may not hold become ``-``; ``local`` (this machine) and
    names already taken get ``-2``, ``-3``, ... appended.
    """
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", alias).lstrip("_.-")[:60] or "server"
    candidate, counter = base, 1
    while candidate in taken or candidate == LOCAL_HOST or not NAME_PATTERN.match(candidate):
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


@dataclass
class _Cleaned:
    text: str
    aliases: list[str]
    notes: list[str]
    lines: dict[str, int] = field(default_factory=dict)


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise SshConfigError(f"{path} is {size} bytes, too large for an ssh config "
                                 f"(at most {MAX_CONFIG_BYTES})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SshConfigError(f"there is no ssh config at {path}") from None
    except IsADirectoryError:
        raise SshConfigError(f"{path} is a folder, not an ssh config file") from None
    except OSError as exc:
        raise SshConfigError(f"cannot read the ssh config {path}: {exc.strerror}") from None
    except ValueError as exc:  # a NUL byte in the name
        raise SshConfigError(f"cannot read the ssh config {path!r}: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SshConfigError(
            f"{path} line {line}: not UTF-8 text (byte {exc.start}); is it really an ssh "
            "config?"
        ) from None


def _clean(text: str, path: Path) -> _Cleaned:
    """The text with ``Match exec`` blocks blanked, the aliases in file order, notes.

    Raises:
        SshConfigError: every line that cannot be parsed, with its number.
    """
    problems: list[str] = []
    notes: list[str] = []
    aliases: list[str] = []
    first_line: dict[str, int] = {}
    lines = text.splitlines()
    skipping = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = paramiko.SSHConfig.SETTINGS_REGEX.match(line)
        if match is None:
            problems.append(f"{path} line {number}: cannot understand {line!r} "
                            "(expected 'Keyword value')")
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key in ("host", "match"):
            try:
                words = shlex.split(value)
            except ValueError as exc:
                problems.append(f"{path} line {number}: {key.capitalize()} {value!r}: {exc}")
                continue
            if key == "host":
                for word in words:
                    first_line.setdefault(word, number)
                aliases.extend(word for word in words if word not in aliases)
            skipping = key == "match" and any(w.lstrip("!").lower() == "exec" for w in words)
            if skipping:
                notes.append(f"{path} line {number}: a 'Match exec' block was left out "
                             "(Sweeplab does not run commands from an ssh config)")
                lines[number - 1] = ""
        elif skipping:
            lines[number - 1] = ""
    if problems:
        raise SshConfigError("\n".join(problems))
    return _Cleaned("\n".join(lines) + "\n", aliases, notes, first_line)


def _profile(alias: str, options: paramiko.SSHConfigDict, name: str) -> ServerProfile:
    """The profile for one alias; ValueError says what is wrong."""
    unsupported = [key for key in _UNSUPPORTED if options.get(key)]
    if unsupported:
        words = " and ".join({"proxyjump": "ProxyJump", "proxycommand": "ProxyCommand"}[k]
                             for k in unsupported)
        raise ValueError(f"it uses {words}, which Sweeplab cannot follow")
    port_text = options.get("port", "22")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"Port {port_text!r} is not a number") from None
    identity = options.get("identityfile") or []
    key_file = os.path.expanduser(identity[0]) if identity else None
    profile = ServerProfile(
        name=name,
        host=options.get("hostname", alias),
        user=options.get("user") or getpass.getuser(),
        port=port,
        auth=AuthKind.KEY if key_file else AuthKind.AGENT,
        key_file=key_file,
    )
    problems = profile.problems()
    if problems:
        raise ValueError("; ".join(p.split(": ", 1)[-1] for p in problems))
    return profile


def scan_ssh_config(path: Path | None = None, taken: set[str] | None = None) -> SshConfigImport:
    """Read an OpenSSH client config into profiles, with what was skipped and why.

    Args:
        path: the config file; None is ``~/.ssh/config``.
        taken: profile names already in use (saved ones); new names avoid them.

    Raises:
        SshConfigError: the file is missing, unreadable, not text, or has lines
            that cannot be parsed (each named with its line number).
    """
    path = (path or DEFAULT_PATH).expanduser()
    cleaned = _clean(_read(path), path)
    try:
        config = paramiko.SSHConfig.from_text(cleaned.text)
    except paramiko.ConfigParseError as exc:
        raise SshConfigError(f"{path}: {exc}") from None
    result = SshConfigImport(path=path, notes=cleaned.notes)
    used = set(taken or ())
    for alias in cleaned.aliases:
        line = cleaned.lines.get(alias, 0)
        if _WILDCARD.search(alias):
            result.skipped.append(SkippedHost(alias, "a pattern, not one server", line, True))
            continue
        try:
            profile = _profile(alias, config.lookup(alias), profile_name(alias, used))
        except (ValueError, OSError, paramiko.SSHException) as exc:
            result.skipped.append(SkippedHost(alias, str(exc), line))
            continue
        used.add(profile.name)
        result.profiles.append(profile)
        result.aliases[profile.name] = alias
    return result


def import_ssh_config(path: Path = DEFAULT_PATH) -> list[ServerProfile]:
    """The profiles of every concrete host in an OpenSSH client config.

    Raises:
        SshConfigError: as :func:`scan_ssh_config`.
    """
    return scan_ssh_config(path).profiles
