"""A throwaway PostgreSQL cluster for tests and benchmarks (not used by the app).

Starts the newest server found under ``/usr/lib/postgresql/*/bin`` in a temporary
directory, listening on 127.0.0.1 at a free port, with trust authentication.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres``
system user (``runuser -u postgres --``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

PG_ROOT = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
_MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found under "
    f"{PG_ROOT}/*/bin; install the Debian package `postgresql` (make test installs it)"
)


class PgClusterError(RuntimeError):
    """The throwaway cluster could not be set up; the message says what to install."""


def find_bin_dir(root: Path = PG_ROOT) -> Path:
    """The ``bin`` folder of the newest PostgreSQL under ``root``.

    Raises:
        PgClusterError: none is installed (names the Debian package ``postgresql``).
    """
    candidates = [
        path for path in root.glob("*/bin")
        if (path / "initdb").is_file() and re.fullmatch(r"\d+(\.\d+)?", path.parent.name)
    ]
    if not candidates:
        raise PgClusterError(_MISSING)
    return max(candidates, key=lambda path: tuple(int(p) for p in path.parent.name.split(".")))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One PostgreSQL server in a temporary directory; a context manager.

    Args:
        durable: keep fsync and synchronous commit on (benchmarks); tests turn
            them off for speed.
        start_timeout: seconds to wait for the server to accept connections.
    """

    def __init__(self, *, durable: bool = False, start_timeout: float = 60.0) -> None:
        self.bin_dir = find_bin_dir()
        self._durable = durable
        self._start_timeout = start_timeout
        self._as_root = os.geteuid() == 0
        self._dir: Path | None = None
        self.port = 0
        self._databases = 0

    @property
    def _data(self) -> Path:
        if self._dir is None:
            raise PgClusterError("the cluster is not started")
        return self._dir / "data"

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", SYSTEM_USER, "--", *command] if self._as_root else command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args), capture_output=True, text=True, check=False,
            cwd=self._dir,
        )
        if result.returncode != 0:
            log = self._dir / "server.log" if self._dir is not None else None
            tail = log.read_text(errors="replace")[-1500:] if log and log.exists() else ""
            raise PgClusterError(
                f"{program} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-1500:]}\n{tail}".rstrip()
            )

    def start(self) -> str:
        """Create and start the cluster; returns the URL of its ``postgres`` database.

        Raises:
            PgClusterError: binaries or the ``postgres`` user missing, or the server
                did not start (its log is quoted).
        """
        owner = self._system_user() if self._as_root else None
        self._dir = Path(tempfile.mkdtemp(prefix="sweeplab-pg-", dir="/tmp"))
        try:
            (self._dir / "sock").mkdir()
            if owner is not None:
                for path in (self._dir, self._dir / "sock"):
                    os.chown(path, owner[0], owner[1])
            self._run(
                "initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            )
            for attempt in range(3):  # another program may take the port meanwhile
                self.port = free_port()
                try:
                    self._start_server()
                    return self.url("postgres")
                except PgClusterError:
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        raise PgClusterError("unreachable")  # pragma: no cover

    @staticmethod
    def _system_user() -> tuple[int, int]:
        import pwd

        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError as exc:
            raise PgClusterError(
                f"no `{SYSTEM_USER}` system user to run PostgreSQL as (initdb refuses root); "
                "install the Debian package `postgresql`"
            ) from exc
        return entry.pw_uid, entry.pw_gid

    def _start_server(self) -> None:
        base = self._data.parent
        options = [
            f"-p {self.port}", "-c listen_addresses=127.0.0.1",
            f"-k {base}/sock", "-c max_connections=50",
        ]
        if not self._durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "start", "-D", str(self._data), "-l", str(base / "server.log"),
            "-w", "-t", str(int(self._start_timeout)), "-o", " ".join(options),
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + self._start_timeout
        while True:
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgClusterError(
                        f"PostgreSQL on port {self.port} did not accept connections "
                        f"within {self._start_timeout:g} s: {exc}"
                    ) from exc
                time.sleep(0.05)  # poll interval while waiting for the condition

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh name when None) and return its URL."""
        import psycopg

        if name is None:
            self._databases += 1
            name = f"sweeplab_{self._databases}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name must be lower-case letters, digits, _: {name!r}")
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) and remove its directory."""
        if self._dir is None:
            return
        try:
            if (self._data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self._data), "-m", "fast", "-w")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> PgCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
