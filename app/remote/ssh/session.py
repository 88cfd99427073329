"""The connections of one executor to one server, kept up: :class:`ServerSession`.

One connection carries everything while it has room: SFTP, short commands, and one
exec channel per followed trial. A server allows only ``MaxSessions`` channels per
connection (10 by default), so followers beyond :data:`MAIN_FOLLOWERS` (or beyond what
the server accepted) get extra connections of :data:`EXTRA_FOLLOWERS` channels each.

A supervisor thread connects (and reconnects, with exponential backoff capped at
:data:`MAX_BACKOFF_S`), runs the connect-time script (:mod:`app.remote.ssh.scripts`),
and pings the server every :data:`PING_S` seconds by opening a channel; a ping that
fails or times out, or a user reporting a dead connection, marks the server offline
and closes every connection, so every channel on it ends at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from app.remote.ssh.connection import CommandResult, SshConnection, close_channel
from app.remote.ssh.errors import ConnectFailed, ConnectionLost, SshError
from app.remote.ssh.hello import Hello, parse_hello
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import hello_script

log = logging.getLogger(__name__)

MAIN_FOLLOWERS = 6
EXTRA_FOLLOWERS = 9
PING_S = 2.0
PING_TIMEOUT_S = 5.0
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 10.0
HELLO_TIMEOUT_S = 30.0


@dataclass
class Link:
    """One connection and how many follower channels it carries (and may carry)."""

    conn: SshConnection
    capacity: int
    channels: int = 0


class ServerSession:
    """Connections to one server with reconnect, ping and offline tracking.

    Args:
        profile, secrets, known_hosts: how to connect (see :class:`SshConnection`).
        connect_timeout: seconds for one connect attempt.
        on_hello: called (in the supervisor thread) with each connect-time answer.

    Thread safety: every method may be called from any thread.
    """

    def __init__(
        self, profile: ServerProfile, secrets: Secrets, known_hosts: KnownHosts, *,
        connect_timeout: float = 10.0, on_hello: Callable[[Hello], None] | None = None,
    ) -> None:
        self.profile = profile
        self.name = profile.name
        self._secrets = secrets
        self._known_hosts = known_hosts
        self._timeout = connect_timeout
        self._on_hello = on_hello
        self._cond = threading.Condition()
        self._links: list[Link] = []
        self._online = False
        self._offline_since: float | None = None
        self._last_error: SshError | None = None
        self._hello: Hello | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._failures = 0

    # --- state -------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Connected and answering."""
        return self._online

    @property
    def offline_since(self) -> float | None:
        """``time.monotonic()`` when the server was lost, or when we began to connect
        while it never answered yet; None while online and before :meth:`start`."""
        return self._offline_since

    @property
    def last_error(self) -> SshError | None:
        """Why the last connect attempt failed (None after a success)."""
        return self._last_error

    @property
    def hello(self) -> Hello | None:
        """The latest connect-time answer (home, work dir, GPUs)."""
        return self._hello

    @property
    def generation(self) -> int:
        """Grows by one at every successful (re)connect."""
        return self._generation

    def start(self) -> None:
        """Start connecting in the background (once); returns at once."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._offline_since = time.monotonic()  # needed from now on
                self._thread = threading.Thread(target=self._supervise, daemon=True,
                                                name=f"sweeplab-ssh-{self.name}")
                self._thread.start()

    def wait_online(self, timeout: float) -> bool:
        """Start connecting if needed and wait up to ``timeout`` s; True when online."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._online and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._online

    def wait_attempt(self, timeout: float) -> bool:
        """Start connecting if needed; wait for it to succeed or for one attempt to fail.

        Returns:
            True when online; False after a failed attempt (see :attr:`last_error`),
            a close, or ``timeout`` seconds.
        """
        self.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            failures = self._failures
            while not self._online and not self._closed and self._failures == failures:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._online

    def wait_change(self, generation: int, timeout: float) -> None:
        """Wait until a reconnect after ``generation``, a close, or ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed and not (self._online and self._generation > generation):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    # --- using the connections ---------------------------------------------------

    def main(self) -> SshConnection:
        """The main connection (for commands and SFTP).

        Raises:
            ConnectionLost: the server is offline.
        """
        with self._cond:
            if not self._online or not self._links:
                raise ConnectionLost(self.name, f"{self.name}: the server is offline")
            return self._links[0].conn

    def run(self, command: str, *, timeout: float, input: bytes | None = None) -> CommandResult:
        """Run a command on the main connection; a dropped connection marks us offline.

        Raises:
            ConnectionLost, CommandTimeout: as :meth:`SshConnection.run`.
        """
        conn = self.main()
        try:
            return conn.run(command, timeout=timeout, input=input)
        except ConnectionLost as exc:
            if not exc.refused:
                self.report_failure(conn)
            raise

    def open_follower(self) -> tuple[Link, paramiko.Channel]:
        """A channel for a long-lived follower, on a connection with room.

        Returns:
            The link (give it back with :meth:`release`) and its ``paramiko.Channel``.

        Raises:
            ConnectionLost: offline, or no connection could be made.
        """
        while True:
            with self._cond:
                if not self._online:
                    raise ConnectionLost(self.name, f"{self.name}: the server is offline")
                link = next((ln for ln in self._links if ln.channels < ln.capacity), None)
                if link is not None:
                    link.channels += 1
            if link is None:
                link = self._add_link()
            try:
                return link, link.conn.open_channel()
            except ConnectionLost as exc:
                with self._cond:
                    link.channels -= 1
                    if exc.refused:  # learn the server's limit and try another link
                        link.capacity = max(0, link.channels)
                        log.info("%s: a connection carries at most %d trials here",
                                 self.name, link.capacity)
                        continue
                self.report_failure(link.conn)
                raise

    def release(self, link: Link) -> None:
        """Give back a channel taken with :meth:`open_follower`."""
        with self._cond:
            link.channels = max(0, link.channels - 1)
            extra = link in self._links and link is not self._links[0]
            if link.channels == 0 and extra:
                self._links.remove(link)
                link.conn.close()

    def _add_link(self) -> Link:
        conn = SshConnection(self.profile, self._secrets, self._known_hosts,
                             timeout=self._timeout)
        try:
            conn.connect()
        except SshError as exc:
            raise ConnectionLost(self.name, f"{self.name}: an extra connection failed: "
                                 f"{exc}") from None
        link = Link(conn, EXTRA_FOLLOWERS, 1)
        with self._cond:
            if not self._online:
                conn.close()
                raise ConnectionLost(self.name, f"{self.name}: the server is offline")
            self._links.append(link)
        return link

    def report_failure(self, conn: SshConnection) -> None:
        """A user saw ``conn`` fail: if it is dead, the server is offline."""
        if conn.alive:
            return
        with self._cond:
            main = self._links[0].conn if self._links else None
        if conn is main or main is None or not self._ping(main):
            self._lose("the connection dropped")
        else:
            with self._cond:
                self._links = [ln for ln in self._links if ln.conn is not conn]
            conn.close()

    def close(self) -> None:
        """Close every connection and stop the supervisor (channels end)."""
        with self._cond:
            self._closed = True
            links, self._links, self._online = self._links, [], False
            self._cond.notify_all()
            thread = self._thread
        for link in links:
            link.conn.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._timeout + 1)

    # --- the supervisor ----------------------------------------------------------

    def _supervise(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._closed:
            if not self._online:
                try:
                    self._connect()
                    backoff = FIRST_BACKOFF_S
                except SshError as exc:
                    with self._cond:
                        self._last_error = exc
                        self._failures += 1
                        self._cond.notify_all()
                    log.info("%s (next try in %.2g s)", exc, backoff)
                    with self._cond:
                        if not self._closed:
                            self._cond.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            with self._cond:
                self._cond.wait(PING_S)
                main = self._links[0].conn if self._online and self._links else None
            if main is not None and not self._closed and not self._ping(main):
                self._lose("the server stopped answering")

    def _connect(self) -> None:
        conn = SshConnection(self.profile, self._secrets, self._known_hosts,
                             timeout=self._timeout)
        conn.connect()
        try:
            script = hello_script(self.profile.workdir,
                                  busy_check=not self.profile.allow_busy_gpus)
            result = conn.run("/bin/sh -s", timeout=HELLO_TIMEOUT_S, input=script.encode())
            if result.exit_code == 3:
                raise ConnectFailed(self.name, f"{self.name}: cannot create the work directory "
                                    f"{self.profile.workdir!r} on the server: "
                                    f"{result.stderr.strip()[:300]}")
            if result.exit_code != 0:
                raise ConnectFailed(self.name, f"{self.name}: the setup script failed with "
                                    f"status {result.exit_code}: {result.stderr.strip()[:300]}")
            hello = parse_hello(result.stdout)
        except (SshError, ValueError) as exc:
            conn.close()
            if isinstance(exc, SshError):
                raise
            raise ConnectFailed(self.name, f"{self.name}: {exc}") from None
        if self._on_hello is not None:
            self._on_hello(hello)
        with self._cond:
            if self._closed:
                conn.close()
                return
            self._links = [Link(conn, MAIN_FOLLOWERS)]
            self._hello = hello
            self._online = True
            self._offline_since = None
            self._last_error = None
            self._generation += 1
            self._cond.notify_all()
        log.info("%s: online (work dir %s)", self.name, hello.workdir)

    def _ping(self, conn: SshConnection) -> bool:
        try:
            channel = conn.open_channel(PING_TIMEOUT_S)
        except ConnectionLost as exc:
            return exc.refused  # a full connection is still a live one
        close_channel(channel)
        return True

    def _lose(self, why: str) -> None:
        with self._cond:
            if not self._online:
                return
            self._online = False
            self._offline_since = time.monotonic()
            links, self._links = self._links, []
            self._cond.notify_all()
        log.warning("%s: offline: %s", self.name, why)
        for link in links:
            link.conn.close()
