"""Live status of saved servers, fetched off the GUI thread: :class:`StatusSource`.

The default source, :class:`ExecutorStatusSource`, keeps one status-only
:class:`~app.remote.ssh.executor.SshExecutor` per server (one persistent connection,
pinged, reconnected with backoff) and asks it for a fresh GPU probe. A composition
root whose pool already holds executors can pass a source over those instead, so
the running-trial counts are the pool's. No Qt here.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Protocol

from app.remote.ssh.errors import HostKeyChanged, SshError, UnknownHostKey
from app.remote.ssh.executor import HostStatus, SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile

_CONNECT_SLACK_S = 5.0


class StatusSource(Protocol):
    """Where the Servers view gets each server's :class:`HostStatus`.

    Contract: :meth:`refresh` blocks (network); it is called from worker threads,
    never twice at once for the same server, and must not raise for network trouble
    (an unreachable server is a status with ``online=False`` and ``error`` set).
    :meth:`forget` and :meth:`close` may come from any thread.
    """

    def refresh(self, profile: ServerProfile, secrets: Secrets) -> HostStatus:
        """The server's status now (reconnecting first when it is offline)."""
        ...

    def forget(self, name: str) -> None:
        """Drop what is held for server ``name`` (deleted or renamed)."""
        ...

    def close(self) -> None:
        """Drop everything; later :meth:`refresh` calls report the server offline."""
        ...


def without_server_prefix(name: str, message: str) -> str:
    """``message`` without the leading ``"<name>: "`` that SSH errors carry."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _host_key_words(exc: SshError) -> str:
    """A short status line for a host key problem (the connection test has the rest)."""
    if isinstance(exc, UnknownHostKey):
        return (f"{exc.server}: its host key is not accepted yet; press Test connection to "
                "see its fingerprint and accept it")
    if isinstance(exc, HostKeyChanged):
        return (f"{exc.server}: WARNING: its host key has CHANGED (a possible attack); "
                "Sweeplab refuses to connect. Press Test connection for details")
    return ""


class ExecutorStatusSource:
    """Statuses from one status-only :class:`SshExecutor` per server.

    Args:
        known_hosts: trusted host keys (an unknown key shows as an error: accept it
            with a connection test first).
        connect_timeout: seconds for one connect attempt.

    Thread safety: as :class:`StatusSource` requires.
    """

    def __init__(self, known_hosts: KnownHosts, *, connect_timeout: float = 10.0) -> None:
        if connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be > 0 seconds, got {connect_timeout}")
        self._known_hosts = known_hosts
        self._timeout = connect_timeout
        self._lock = threading.Lock()
        self._executors: dict[str, tuple[ServerProfile, Secrets, SshExecutor]] = {}
        self._closed = False

    def _executor(self, profile: ServerProfile, secrets: Secrets) -> SshExecutor | None:
        stale: SshExecutor | None = None
        with self._lock:
            if self._closed:
                return None
            held = self._executors.get(profile.name)
            if held is not None and held[0] == profile and held[1] == secrets:
                return held[2]
            if held is not None:
                stale = held[2]
            executor = SshExecutor(profile, secrets, self._known_hosts,
                                   connect_timeout=self._timeout)
            self._executors[profile.name] = (profile, secrets, executor)
        if stale is not None:
            stale.close()
        return executor

    def refresh(self, profile: ServerProfile, secrets: Secrets) -> HostStatus:
        """Connect if needed (waiting for one attempt), then probe the GPUs again."""
        executor = self._executor(profile, secrets)
        if executor is None:
            return HostStatus(profile.name, False, 0, error="the Servers window was closed")
        try:
            executor.connect(timeout=self._timeout + _CONNECT_SLACK_S)
        except SshError as exc:
            status = executor.status()
            short = _host_key_words(exc)
            return dataclasses.replace(status, error=short) if short else status
        return executor.refresh_status()

    def forget(self, name: str) -> None:
        """Close the executor of server ``name``, if any."""
        with self._lock:
            held = self._executors.pop(name, None)
        if held is not None:
            held[2].close()

    def close(self) -> None:
        """Close every executor (their connections end; nothing runs on them)."""
        with self._lock:
            self._closed = True
            held, self._executors = list(self._executors.values()), {}
        for _profile, _secrets, executor in held:
            executor.close()
