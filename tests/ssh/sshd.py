"""A real OpenSSH server for tests: :class:`Sshd` runs ``/usr/sbin/sshd -D -e -f CONFIG``.

It listens on 127.0.0.1 on a port free at start, with its own ed25519 host key,
``StrictModes no``, ``UsePAM no``, no passwords, and one authorized key file, and logs
in as the current user (root in CI). :meth:`Sshd.kill` simulates a server that
vanishes: the listener and every connection's sshd process die at once (the trials,
in their own sessions, keep running); :meth:`Sshd.start` brings it back on the same
port, with the same host key unless told otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import paramiko

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")


def require_sshd() -> None:
    """Fail (never skip) with what to install when OpenSSH's server is missing."""
    if not SSHD.is_file():
        raise RuntimeError(f"{SSHD} is missing: install the Debian package openssh-server "
                           "(make test installs it: scripts/ensure-system-packages.sh)")
    if not PRIVSEP_DIR.is_dir():
        if os.geteuid() != 0:
            raise RuntimeError(f"sshd needs {PRIVSEP_DIR}; create it as root "
                               f"(mkdir -m 755 {PRIVSEP_DIR})")
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, comment: str = "sweeplab-test", passphrase: str = "") -> Path:
    """A new ed25519 key pair at ``path`` and ``path.pub``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment,
                    "-f", str(path)], check=True, capture_output=True)
    return path


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, None if it has no /proc entry."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, fields[0], int(fields[1])


def gone(pid: int) -> bool:
    """No such process, or only its zombie (PID 1 here may never reap it)."""
    stat = _stat(pid)
    return stat is None or stat[1] in ("Z", "X")


class Sshd:
    """One sshd process on 127.0.0.1 (see the module doc).

    Args:
        root: a private folder for its config, host key, log.
        authorized_keys: the public key file clients log in with.
        env: variables every session gets (``SetEnv``), e.g. a PATH with a fake tool.
        max_sessions: ``MaxSessions`` (channels per connection), default OpenSSH's 10.
    """

    def __init__(self, root: Path, authorized_keys: Path, *,
                 env: Mapping[str, str] | None = None, max_sessions: int = 10) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.authorized_keys = authorized_keys
        self.env = dict(env or {})
        self.max_sessions = max_sessions
        self.port = free_port()
        self.host_key_file = self.root / "ssh_host_ed25519_key"
        self.log_file = self.root / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.new_host_key()

    @property
    def host_key(self) -> paramiko.PKey:
        """The public host key it shows."""
        return paramiko.PKey.from_path(self.host_key_file)

    def new_host_key(self) -> None:
        """Make a new host key (used from the next :meth:`start`)."""
        keygen(self.host_key_file, "sweeplab-test-host")

    def _config(self) -> Path:
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key_file}",
            f"PidFile {self.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",
            f"MaxSessions {self.max_sessions}",
            "MaxStartups 100",
            "LogLevel VERBOSE",
        ]
        if self.env:
            lines.append("SetEnv " + " ".join(f'"{k}={v}"' for k, v in self.env.items()))
        path = self.root / "sshd_config"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10.0) -> Sshd:
        """Start it and wait until it answers with an SSH banner."""
        require_sshd()
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"sshd on port {self.port} is already running")
        config = self._config()
        check = subprocess.run([str(SSHD), "-t", "-f", str(config)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refuses its config {config}: {check.stderr.strip()}")
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not answer on port {self.port} within "
                                   f"{timeout} s: {self.log_tail()}")
            time.sleep(0.01)  # polling interval of the wait
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def log_tail(self, chars: int = 2000) -> str:
        """The end of its log, for failure messages."""
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes under the listener (not their commands)."""
        if self.proc is None:
            return []
        children: dict[int, list[int]] = {}
        names: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None and stat[1] not in ("Z", "X"):
                    children.setdefault(stat[2], []).append(int(entry))
                    names[int(entry)] = stat[0]
        found: list[int] = []
        todo = [self.proc.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                if names.get(child, "").startswith("sshd"):
                    found.append(child)
                    todo.append(child)
        return found

    def _end(self, sig: signal.Signals, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        sessions = self.session_pids()
        for pid in [self.proc.pid, *sessions]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while not all(gone(pid) for pid in sessions):
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd sessions {sessions} did not end")
            time.sleep(0.01)  # polling interval of the wait
        self.proc = None

    def stop(self) -> None:
        """End it and its connections (SIGTERM), waiting until they are gone."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Make it vanish: SIGKILL the listener and every connection's sshd at once."""
        self._end(signal.SIGKILL)

    @property
    def running(self) -> bool:
        """True while the listener process runs."""
        return self.proc is not None and self.proc.poll() is None
