"""One SSH connection to one server: :class:`SshConnection`.

A connection is a paramiko :class:`~paramiko.Transport` over a socket with
``TCP_NODELAY`` (opening a channel and running ``true`` drops from ~48 ms to ~5 ms).
The server's host key is checked against :class:`KnownHosts` before anything is sent
(a reject policy: unknown keys are accepted only when the caller passes their exact
fingerprint; changed keys never). Commands run one exec channel each, through the
login user's shell but never as a login shell.

Secrets: the :class:`Secrets` are kept only to log in; no message, log line or
``repr`` made here contains them.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass

import paramiko

from app.remote.ssh.auth import authenticate
from app.remote.ssh.errors import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    HostKeyChanged,
    HostKeyError,
    SshError,
    UnknownHostKey,
)
from app.remote.ssh.hostkeys import KnownHosts, fingerprint
from app.remote.ssh.profile import Secrets, ServerProfile

__all__ = [
    "AuthFailed",
    "CommandResult",
    "CommandTimeout",
    "ConnectFailed",
    "ConnectionLost",
    "HostKeyChanged",
    "HostKeyError",
    "SshConnection",
    "SshError",
    "UnknownHostKey",
]

log = logging.getLogger(__name__)


class _RefusedChannels(logging.Filter):
    """Keeps paramiko's ERROR line for a channel the server refused ("Secsh channel 3
    open FAILED: open failed: ...") off the logs: :meth:`SshConnection.open_channel`
    raises the refusal as :class:`ConnectionLost` (``refused``), which the executor
    handles (it learns the server's ``MaxSessions`` and retries), so the line alone, on
    the terminal of every busy run, read as a failure that was none."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that line; True for everything else."""
        text = record.getMessage()
        return not (text.startswith("Secsh channel ") and " open FAILED: " in text)


logging.getLogger("paramiko.transport").addFilter(_RefusedChannels())

KEEPALIVE_S = 15
_READ_CHUNK = 1 << 16
_RSA_SIGNATURES = ("rsa-sha2-512", "rsa-sha2-256")


@dataclass(frozen=True)
class CommandResult:
    """What a remote command did. ``exit_code`` is -1 when the server sent no status."""

    exit_code: int
    stdout: str
    stderr: str


class SshConnection:
    """A logged-in SSH connection to one server, opened by :meth:`connect`.

    Args:
        profile: where and as whom to connect.
        secrets: the password or key passphrase the profile's auth needs.
        known_hosts: the trusted host keys.
        accept_fingerprint: accept (and store) an unknown host key whose fingerprint
            is exactly this ``SHA256:...`` text, as the user confirmed it.
        timeout: seconds for the TCP connect, the SSH handshake and authentication.

    Thread safety: once connected, :meth:`run`, :meth:`open_channel` and :meth:`close`
    may be called from any thread; :meth:`sftp` hands out one shared client that the
    caller must not use from two threads at once.
    """

    def __init__(
        self,
        profile: ServerProfile,
        secrets: Secrets,
        known_hosts: KnownHosts,
        *,
        accept_fingerprint: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"server {profile.name!r}: timeout must be > 0, got {timeout}")
        self.profile = profile
        self.known_hosts = known_hosts
        self.accept_fingerprint = accept_fingerprint
        self.timeout = timeout
        self._secrets = secrets
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        p = self.profile
        state = "open" if self.alive else "closed"
        return f"SshConnection({p.name!r}, {p.user}@{p.host}:{p.port}, {state})"

    @property
    def name(self) -> str:
        """The profile's name, used in every message."""
        return self.profile.name

    @property
    def alive(self) -> bool:
        """True while the connection is logged in and its transport runs."""
        transport = self._transport
        return transport is not None and transport.is_active() and transport.is_authenticated()

    @property
    def host_key(self) -> paramiko.PKey | None:
        """The key the server showed, once connected."""
        transport = self._transport
        return transport.get_remote_server_key() if transport is not None else None

    def connect(self) -> None:
        """Open the TCP connection, check the host key, log in.

        Raises:
            ConnectFailed: the server cannot be reached or does not speak SSH.
            UnknownHostKey: the host key is not trusted yet (its ``.fingerprint`` can
                be shown and passed back as ``accept_fingerprint``).
            HostKeyChanged: the host key differs from the stored one (refused).
            AuthFailed: the server refused the credentials or a key file is unusable.
        """
        p = self.profile
        sock = self._open_socket()
        transport = paramiko.Transport(sock)
        transport.banner_timeout = self.timeout
        transport.auth_timeout = self.timeout
        transport.handshake_timeout = self.timeout
        self._prefer_known_key_types(transport)
        try:
            try:
                transport.start_client(timeout=self.timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectFailed(p.name, f"{p.name}: {p.host}:{p.port} answered but the "
                                    f"SSH handshake failed ({exc}); is it an SSH server, "
                                    "and is the port right?") from None
            self._check_host_key(transport)
            authenticate(transport, self.profile, self._secrets)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(KEEPALIVE_S)
        with self._lock:
            old, self._transport, self._sftp = self._transport, transport, None
        if old is not None:
            old.close()
        log.info("%s: connected to %s@%s:%s", p.name, p.user, p.host, p.port)

    def _open_socket(self) -> socket.socket:
        p = self.profile
        try:
            sock = socket.create_connection((p.host, p.port), timeout=self.timeout)
        except socket.gaierror:
            raise ConnectFailed(p.name, f"{p.name}: the host name {p.host!r} is not known; "
                                "check its spelling and the network") from None
        except TimeoutError:
            raise ConnectFailed(p.name, f"{p.name}: {p.host}:{p.port} did not answer within "
                                f"{self.timeout:g} s; is the server on and reachable from "
                                "here (VPN, firewall)?") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConnectFailed(p.name, f"{p.name}: cannot connect to {p.host}:{p.port} "
                                f"({reason}); is the server on and its SSH port "
                                f"{p.port}?") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _prefer_known_key_types(self, transport: paramiko.Transport) -> None:
        """Ask for the key type we already trust, so a server with several keys shows it."""
        known = self.known_hosts.known_types(self.profile.host, self.profile.port)
        if not known:
            return
        wanted: list[str] = []
        for key_type in known:
            wanted.extend(_RSA_SIGNATURES if key_type == "ssh-rsa" else (key_type,))
        options = transport.get_security_options()
        available = list(options.key_types)
        first = [key_type for key_type in wanted if key_type in available]
        options.key_types = tuple(first + [t for t in available if t not in first])

    def _check_host_key(self, transport: paramiko.Transport) -> None:
        p = self.profile
        key = transport.get_remote_server_key()
        try:
            self.known_hosts.check(p.host, p.port, key, server=p.name)
        except UnknownHostKey as exc:
            if self.accept_fingerprint is None:
                raise
            if self.accept_fingerprint.strip() != exc.fingerprint:
                raise UnknownHostKey(
                    p.name, p.host, p.port, key, exc.fingerprint, exc.known_types,
                    offered_instead_of=self.accept_fingerprint.strip(),
                ) from None
            self.known_hosts.accept(p.host, p.port, key)
            log.info("%s: host key %s accepted as confirmed", p.name, fingerprint(key))

    def _live_transport(self) -> paramiko.Transport:
        transport = self._transport
        if transport is None or not transport.is_active():
            raise ConnectionLost(self.name, f"{self.name}: not connected (the connection is "
                                 "closed or dropped)")
        return transport

    def open_channel(self, timeout: float | None = None) -> paramiko.Channel:
        """A new session channel (exec it yourself; close it when done).

        Raises:
            ConnectionLost: the connection is closed, dropped, or refused the channel
                (a server's ``MaxSessions`` limit shows as ``.refused`` True).
        """
        transport = self._live_transport()
        try:
            return transport.open_session(timeout=timeout or self.timeout)
        except paramiko.ChannelException as exc:
            raise ConnectionLost(self.name, f"{self.name}: the server refused a new channel "
                                 f"({exc.text}); too many at once?", refused=True) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectionLost(self.name, f"{self.name}: opening a channel failed "
                                 f"({exc or type(exc).__name__})") from None

    def run(self, command: str, *, timeout: float, input: bytes | None = None) -> CommandResult:
        """Run one command on its own channel and wait for it; its output as text
        (see :meth:`run_bytes`)."""
        status, out, err = self.run_bytes(command, timeout=timeout, input=input)
        return CommandResult(status, out.decode("utf-8", "replace"),
                             err.decode("utf-8", "replace"))

    def run_bytes(self, command: str, *, timeout: float,
                  input: bytes | None = None) -> tuple[int, bytes, bytes]:
        """Run one command on its own channel and wait for it: exit status, stdout and
        stderr as bytes.

        Args:
            command: the command line, given to the user's shell (not a login shell).
            timeout: seconds for the whole command, input and output included.
            input: bytes for its stdin (then end of file); None sends end of file only.

        Raises:
            CommandTimeout: it did not end in time (the channel is closed; the remote
                process may go on).
            ConnectionLost: the connection is closed or dropped.
        """
        deadline = time.monotonic() + timeout
        channel = self.open_channel(timeout)
        try:
            channel.exec_command(command)
            if input:
                channel.settimeout(max(0.001, deadline - time.monotonic()))
                channel.sendall(input)
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            while True:
                read_available(channel, out, err)
                if channel.eof_received or channel.closed:
                    read_available(channel, out, err, limit=1 << 62)
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout(command, timeout)
                wait_readable(channel, remaining)
            if not channel.eof_received:
                raise ConnectionLost(self.name, f"{self.name}: the connection dropped while a "
                                     "command was running")
            if not channel.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise self._timeout(command, timeout)
            status = channel.exit_status
        except TimeoutError:
            raise self._timeout(command, timeout) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectionLost(self.name, f"{self.name}: the connection broke while "
                                 f"running a command ({exc or type(exc).__name__})") from None
        finally:
            close_channel(channel)
        return status, bytes(out), bytes(err)

    def _timeout(self, command: str, timeout: float) -> CommandTimeout:
        shown = command if len(command) <= 60 else command[:57] + "..."
        return CommandTimeout(self.name, f"{self.name}: the command {shown!r} did not finish "
                              f"within {timeout:g} s; the server may be overloaded or hung")

    def sftp(self) -> paramiko.SFTPClient:
        """The connection's SFTP client (opened on first use, then reused).

        Raises:
            ConnectionLost: not connected, or the server refused SFTP.
        """
        with self._lock:
            if self._sftp is not None:
                return self._sftp
            transport = self._live_transport()
            try:
                client = paramiko.SFTPClient.from_transport(transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectionLost(self.name, f"{self.name}: SFTP is not available "
                                     f"({exc or type(exc).__name__}); is the sftp subsystem "
                                     "enabled on the server?") from None
            if client is None:
                raise ConnectionLost(self.name, f"{self.name}: SFTP could not be opened")
            self._sftp = client
            return client

    def close(self) -> None:
        """Close the connection (its channels end); safe to call twice."""
        with self._lock:
            transport, sftp, self._transport, self._sftp = self._transport, self._sftp, None, None
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()
        if transport is not None:
            transport.close()


def close_channel(channel: paramiko.Channel) -> None:
    """Close ``channel``; a connection that already broke is not an error here.

    paramiko sends the close message on the transport, which raises ``EOFError`` or
    ``OSError`` once the socket is gone; the channel is over either way.
    """
    try:
        channel.close()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        log.debug("closing a channel of a broken connection: %r", exc)


def wait_readable(channel: paramiko.Channel, timeout: float) -> None:
    """Block until the channel has data, end of file or is closed, or ``timeout`` passes."""
    if (channel.recv_ready() or channel.recv_stderr_ready() or channel.eof_received
            or channel.closed):
        return
    select.select([channel], [], [], timeout)


def read_available(channel: paramiko.Channel, out: bytearray, err: bytearray,
                   limit: int = 1 << 20) -> None:
    """Append what the channel holds now (up to about ``limit`` bytes of stdout)."""
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(_READ_CHUNK)
    start = len(out)
    while channel.recv_ready() and len(out) - start < limit:
        out += channel.recv(_READ_CHUNK)
