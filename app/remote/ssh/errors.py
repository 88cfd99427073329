"""What can go wrong talking to a server, each error in plain words for a person.

Every message names the server and says what to do. No message, ``repr`` or log line
built here ever holds a password or a key passphrase: they are never passed in.

Hierarchy::

    SshError
    ├── ConnectFailed       the server cannot be reached, or is not an SSH server
    ├── AuthFailed          it answered but did not let us in
    ├── HostKeyError        its host key is not the one we know
    │   ├── UnknownHostKey  never seen: show .fingerprint, offer to accept it
    │   └── HostKeyChanged  differs from the stored one: refused, possible attack
    ├── CommandTimeout      a remote command did not finish in time
    └── ConnectionLost      the connection dropped while a command was running
"""

from __future__ import annotations

import paramiko


class SshError(Exception):
    """Base of every error of the SSH layer; ``str()`` is a sentence for a person.

    Attributes:
        server: the profile name (or ``host:port``) the error is about.
    """

    def __init__(self, server: str, message: str) -> None:
        super().__init__(message)
        self.server = server


class ConnectFailed(SshError):
    """No SSH session could be opened (refused, unreachable, timed out, not SSH)."""


class AuthFailed(SshError):
    """The server refused our credentials, or they could not be used (bad key file)."""


class HostKeyError(SshError):
    """The server's host key does not match what we know.

    Attributes:
        host, port: where we connected.
        key: the key the server offered.
        fingerprint: its OpenSSH SHA256 fingerprint (``SHA256:...``).
    """

    def __init__(
        self, server: str, message: str, host: str, port: int, key: paramiko.PKey,
        fingerprint: str,
    ) -> None:
        super().__init__(server, message)
        self.host = host
        self.port = port
        self.key = key
        self.fingerprint = fingerprint


class UnknownHostKey(HostKeyError):
    """A host key never seen for this host; the user may accept it by its fingerprint.

    Attributes:
        known_types: key types already known for the host under other keys (a
            server that suddenly offers a different type deserves a second look).
    """

    def __init__(
        self, server: str, host: str, port: int, key: paramiko.PKey, fingerprint: str,
        known_types: tuple[str, ...] = (), offered_instead_of: str | None = None,
    ) -> None:
        note = ""
        if offered_instead_of is not None:
            note += (f" The fingerprint given to accept, {offered_instead_of}, is not this "
                     "one, so nothing was accepted.")
        if known_types:
            note += (f" Keys of another type ({', '.join(known_types)}) are already known for "
                    "this host, so be extra careful.")
        message = (
            f"{server}: the host key of {host}:{port} is not known yet. Its fingerprint is "
            f"{fingerprint} ({key.get_name()}). Check it with the server's administrator "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server) and accept it only "
            f"if it matches.{note}"
        )
        super().__init__(server, message, host, port, key, fingerprint)
        self.known_types = known_types


class HostKeyChanged(HostKeyError):
    """The host offered a key other than the one stored for it: refused.

    Attributes:
        expected: the fingerprint we have stored.
    """

    def __init__(
        self, server: str, host: str, port: int, key: paramiko.PKey, fingerprint: str,
        expected: str, source: str,
    ) -> None:
        message = (
            f"{server}: WARNING: the host key of {host}:{port} has CHANGED. Someone could be "
            f"intercepting the connection (a man-in-the-middle attack), or the server was "
            f"reinstalled. Expected {expected}, the server offered {fingerprint} "
            f"({key.get_name()}). Sweeplab refuses to connect. If the administrator "
            f"confirms the new key, remove the old entry for this host from {source} and "
            f"connect again."
        )
        super().__init__(server, message, host, port, key, fingerprint)
        self.expected = expected


class CommandTimeout(SshError):
    """A remote command did not end within its time limit (its channel was closed)."""


class ConnectionLost(SshError):
    """The connection dropped (or was never open) while a command needed it.

    Attributes:
        refused: the connection is up but the server refused a new channel (its
            ``MaxSessions`` limit): another connection may help.
    """

    def __init__(self, server: str, message: str, *, refused: bool = False) -> None:
        super().__init__(server, message)
        self.refused = refused
