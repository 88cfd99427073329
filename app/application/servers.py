"""Saved lab servers: add, edit, remove, test a connection, accept a host key, watch
their status, import them from an ssh config; their secrets in the keyring.

The use cases both front ends call for servers (the Servers window and ``sweeplab
servers``): :class:`Servers` over one database, :class:`SecretKeeper` for passwords and
passphrases, :class:`ExecutorStatusSource` for live statuses. No Qt here.

The values a front end shows or builds (:class:`ServerProfile`, :class:`Secrets`,
:class:`HostStatus`, :class:`GpuInfo`, :class:`ProbeReport`...) are defined by the
layer that produces them (``app.remote``) and re-exported here, so that a view or a
command names only this layer; they are frozen dataclasses and enums with no I/O.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.application.wiring import known_hosts as default_known_hosts
from app.engine.lazy import lazy_names
from app.remote.gpu import GpuInfo
from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.named import HOSTS_CLASH
from app.store.servers import InvalidProfile, ServerProfiles, check_profile
from app.store.store import Store

if TYPE_CHECKING:
    from app.remote.ssh.errors import SshError
    from app.remote.ssh.executor import HostStatus, SshExecutor
    from app.remote.ssh.hostkeys import KnownHosts
    from app.remote.ssh.probe import ProbeReport, ProbeStep
    from app.remote.ssh.secrets import SecretStore, SecretStoreError, key_needs_passphrase
    from app.remote.ssh.sshconfig import (
        DEFAULT_PATH,
        SshConfigError,
        SshConfigImport,
        scan_ssh_config,
    )

__all__ = [
    "DEFAULT_PATH", "HOSTS_CLASH", "AuthKind", "ExecutorStatusSource", "GpuInfo", "HostStatus",
    "InvalidProfile", "KnownHosts", "Probe", "ProbeReport", "ProbeStep", "SecretKeeper",
    "SecretStoreError", "Secrets", "ServerProfile", "Servers", "SshConfigError",
    "SshConfigImport", "StatusSource", "check_profile", "key_needs_passphrase",
    "scan_ssh_config", "without_server_prefix",
]

_SSH_NAMES = {
    "HostStatus": "executor", "KnownHosts": "hostkeys", "ProbeReport": "probe",
    "ProbeStep": "probe", "SecretStoreError": "secrets", "key_needs_passphrase": "secrets",
    "DEFAULT_PATH": "sshconfig", "SshConfigError": "sshconfig",
    "SshConfigImport": "sshconfig", "scan_ssh_config": "sshconfig",
}
"""The names this module hands on from ``app.remote.ssh`` modules that import paramiko,
keyring or cryptography (~0.3 s): each is imported when first asked for, so that a
window starts without the SSH stack (a module ``__getattr__``, PEP 562)."""


__getattr__ = lazy_names(globals(), "app.remote.ssh", _SSH_NAMES)


_CONNECT_SLACK_S = 5.0


class SecretKeeper:
    """Server secrets in the OS keyring, or in memory for this session when there is none.

    Without a usable keyring nothing is written anywhere: what was typed is kept in
    this object for as long as it lives (the window, or one command) and the user is
    told why.

    Args:
        store: the keyring access; None finds the keyring on first use (finding its
            backend costs about half a second on Linux, so a window makes this early
            and pays only when a secret is needed).

    Thread safety: every method may be called from any thread (status workers read
    secrets while the GUI thread saves them).
    """

    def __init__(self, store: SecretStore | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._session: dict[str, Secrets] = {}

    @property
    def store(self) -> SecretStore:
        """The keyring access (found now if it was not yet)."""
        with self._lock:
            if self._store is None:
                from app.remote.ssh.secrets import SecretStore

                self._store = SecretStore()
            return self._store

    def available(self) -> bool:
        """True when secrets are saved in the OS keyring."""
        return self.store.available()

    def where(self) -> str:
        """The keyring's name in plain words (``the Secret Service keyring``...)."""
        return self.store.where()

    def why_unavailable(self) -> str:
        """Why no keyring can hold secrets here, in plain words."""
        return self.store.why_unavailable()

    def note(self) -> str:
        """Where typed secrets go, in plain words, for the text beside the fields."""
        if self.available():
            return f"Saved in {self.where()}; never in the database."
        return (f"Not saved: {self.why_unavailable()}. What you type is kept for this "
                "session only and asked again next time.")

    def get(self, name: str) -> Secrets:
        """The secrets of server ``name``: this session's, else the keyring's.

        Raises:
            ValueError: ``name`` is not a valid profile name.
            SecretStoreError: the keyring failed (locked, its service stopped).
        """
        with self._lock:
            kept = self._session.get(name)
        return kept if kept is not None else self.store.get(name)

    def has_saved(self, name: str) -> tuple[bool, bool]:
        """Whether a password and a passphrase are on file for ``name`` (never raises)."""
        from app.remote.ssh.secrets import SecretStoreError

        try:
            secrets = self.get(name)
        except (SecretStoreError, ValueError):
            return False, False
        return bool(secrets.password), bool(secrets.passphrase)

    def update(self, profile: ServerProfile, typed: Secrets) -> Secrets:
        """Keep what ``profile``'s login needs: the typed secrets, else the ones on file.

        A password is kept only for password logins and a passphrase only for key
        files; the other is forgotten. Secrets are saved in the keyring when there is
        one, else in memory for this session.

        Returns:
            The secrets now on file for the profile.

        Raises:
            ValueError: the profile name is not valid.
            SecretStoreError: the keyring failed; the message never holds a secret.
        """
        from app.remote.ssh.secrets import SecretStoreError

        try:
            old = self.get(profile.name)
        except SecretStoreError:
            old = Secrets()
        password = passphrase = None
        if profile.auth is AuthKind.PASSWORD:
            password = typed.password or old.password
        elif profile.auth is AuthKind.KEY:
            passphrase = typed.passphrase or old.passphrase
        wanted = Secrets(password=password, passphrase=passphrase)
        if self.available():
            if wanted != old:
                self.store.set(profile.name, wanted)
            with self._lock:
                self._session.pop(profile.name, None)
        else:
            with self._lock:
                if password or passphrase:
                    self._session[profile.name] = wanted
                else:
                    self._session.pop(profile.name, None)
        return wanted

    def forget(self, name: str) -> None:
        """Forget the secrets of server ``name``: this session's and the keyring's.

        Raises:
            ValueError: ``name`` is not a valid profile name.
            SecretStoreError: the keyring failed to delete them.
        """
        with self._lock:
            self._session.pop(name, None)
        if self.available():
            self.store.delete(name)

    def __repr__(self) -> str:
        with self._lock:
            kept = sorted(self._session)
            store = self._store
        return f"SecretKeeper({store!r}, session-only secrets for {kept})"


class Probe(Protocol):
    """Tests one server's connection (:meth:`Servers.probe`); blocking, never raises for
    the network."""

    def __call__(self, profile: ServerProfile, secrets: Secrets, *,
                 accept_fingerprint: str | None = None, timeout: float = 10.0) -> ProbeReport:
        """The report of a connection test of ``profile``."""
        ...


class StatusSource(Protocol):
    """Where a front end gets each server's :class:`HostStatus`.

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
    from app.remote.ssh.errors import HostKeyChanged, UnknownHostKey

    if isinstance(exc, UnknownHostKey):
        return (f"{exc.server}: its host key is not accepted yet; press Test connection to "
                "see its fingerprint and accept it")
    if isinstance(exc, HostKeyChanged):
        return (f"{exc.server}: WARNING: its host key has CHANGED (a possible attack); "
                "Sweeplab refuses to connect. Press Test connection for details")
    return ""


class ExecutorStatusSource:
    """Statuses from one status-only :class:`SshExecutor` per server (one persistent
    connection, pinged, reconnected with backoff, asked for a fresh GPU probe).

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
        from app.remote.ssh.executor import SshExecutor

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
        from app.remote.ssh.errors import SshError
        from app.remote.ssh.executor import HostStatus

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


class Servers:
    """The saved servers of one database, their secrets and their connections.

    Args:
        store: the open database.
        keeper: where secrets go (default: the keyring, found on first use). A window
            passes its own, so secrets kept for the session (no keyring) outlive a dialog.
        known_hosts: trusted host keys (default: ``<data dir>/known_hosts``, read on
            first use).

    Every method that reads or writes the database may raise
    :class:`~app.engine.ports.StoreError` (a taken name, a missing server...).
    Thread safety: as the store's and the keeper's, any thread.
    """

    def __init__(self, store: Store, keeper: SecretKeeper | None = None, *,
                 known_hosts: KnownHosts | None = None) -> None:
        self.url = store.url
        self._profiles = ServerProfiles(store)
        self._clusters = ClusterProfiles(store)
        self.keeper = keeper if keeper is not None else SecretKeeper()
        self._known_hosts = known_hosts

    @property
    def known_hosts(self) -> KnownHosts:
        """The host keys this user accepted."""
        if self._known_hosts is None:
            self._known_hosts = default_known_hosts()
        return self._known_hosts

    # --- the saved profiles ---------------------------------------------------------

    def list(self) -> list[ServerProfile]:
        """Every saved server, by name."""
        return self._profiles.list()

    def get(self, name: str) -> ServerProfile:
        """The saved server ``name`` (raises NotFound)."""
        return self._profiles.get(name)

    def cluster_names(self) -> builtins.list[str]:
        """The saved Slurm clusters' names, which no server may take."""
        return self._clusters.names()

    def host_names(self) -> builtins.list[str]:
        """Every name an experiment's ``hosts`` may pick besides ``local``: the saved
        servers', then the saved clusters'."""
        return [profile.name for profile in self.list()] + self.cluster_names()

    def add(self, profile: ServerProfile) -> ServerProfile:
        """Save a new server.

        Raises:
            InvalidProfile: every problem of the profile, each naming its field.
            StoreError: the name is taken by a server or a cluster.
        """
        return self._profiles.add(profile)

    def update(self, profile: ServerProfile) -> ServerProfile:
        """Save new settings of the server of that name (its secrets are untouched)."""
        return self._profiles.update(profile)

    def remove(self, name: str) -> None:
        """Forget server ``name``; its secrets are left to :meth:`forget_secrets`, so a
        front end can say which of the two failed."""
        self._profiles.remove(name)

    # --- secrets --------------------------------------------------------------------

    def secrets(self, name: str) -> Secrets:
        """The secrets on file for server ``name`` (this session's, else the keyring's).

        Raises:
            ValueError, SecretStoreError: as :meth:`SecretKeeper.get`.
        """
        return self.keeper.get(name)

    def keep_secrets(self, profile: ServerProfile, typed: Secrets) -> Secrets:
        """Keep what ``profile``'s login needs (see :meth:`SecretKeeper.update`)."""
        return self.keeper.update(profile, typed)

    def forget_secrets(self, name: str) -> None:
        """Remove server ``name``'s secrets from the keyring and this session."""
        self.keeper.forget(name)

    # --- connections ----------------------------------------------------------------

    def probe(self, profile: ServerProfile, secrets: Secrets, *,
              accept_fingerprint: str | None = None, timeout: float = 10.0) -> ProbeReport:
        """Test whether trials could run on ``profile`` (blocking: call it off the GUI
        thread); every problem is a failed step, never an exception for the network.

        ``accept_fingerprint`` accepts an unknown host key with exactly that fingerprint
        (it is added to :attr:`known_hosts`) and tests again.
        """
        from app.remote.ssh.probe import probe_server

        return probe_server(profile, secrets, self.known_hosts,
                            accept_fingerprint=accept_fingerprint, timeout=timeout)

    def status_source(self, connect_timeout: float = 10.0) -> ExecutorStatusSource:
        """A source of live statuses, one status-only connection per server."""
        return ExecutorStatusSource(self.known_hosts, connect_timeout=connect_timeout)

    # --- importing ------------------------------------------------------------------

    def scan_ssh_config(self, path: Path | None = None) -> SshConfigImport:
        """The servers an OpenSSH client config describes (``~/.ssh/config`` by default),
        a name a saved server holds given a suffix (see :func:`scan_ssh_config`).

        Raises:
            SshConfigError: the file is missing, unreadable or cannot be parsed.
        """
        from app.remote.ssh.sshconfig import scan_ssh_config

        return scan_ssh_config(path, taken={profile.name for profile in self.list()})
