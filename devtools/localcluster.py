"""A throwaway single-node Slurm for tests and benchmarks (not used by the app).

:class:`LocalSlurm` starts ``munged``, ``slurmctld`` and ``slurmd`` of Debian's
``slurm-wlm`` on this machine, each in the foreground with private state under a
temporary directory (its own munge socket and key, free ports, pid files, logs), so
it never touches a system Slurm or munge. The node is this host at 127.0.0.1 with
``cpus`` CPUs (``config_overrides``: more than the machine has is fine for no-op
jobs); partition ``main`` is the default, partition ``down`` is down (its jobs stay
pending with reason PartitionDown). Clients find it through ``SLURM_CONF``
(:attr:`LocalSlurm.env`). It needs root: ``slurmd`` runs as root and ``munged`` as
the ``munge`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

BINARIES = {"munged": "munge", "slurmctld": "slurm-wlm", "slurmd": "slurm-wlm",
            "sbatch": "slurm-wlm", "squeue": "slurm-wlm", "scancel": "slurm-wlm"}
SBIN = Path("/usr/sbin")
MUNGE_USER = "munge"
KILL_WAIT_S = 2
"""Slurm's KillWait here: seconds between SIGTERM and SIGKILL when a job is cancelled."""


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the throwaway Slurm; the message says why exactly."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found is None and (SBIN / name).is_file():
        found = str(SBIN / name)
    return found


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (PID 1 here may never reap it)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rindex(")") + 2:].split()[0] in ("Z", "X")


class LocalSlurm:
    """One throwaway Slurm cluster (see the module doc); a context manager.

    Args:
        root: where its files go (default: a new temporary directory, removed on stop).
        cpus: CPUs the node offers.
    """

    def __init__(self, root: Path | None = None, *, cpus: int = 8) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="sweeplab-slurm-")) if root is None else root
        self.cpus = cpus
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: float | None = None
        """``time.monotonic()`` when slurmctld started (its time-limit checks run every
        30 s from then)."""

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with ``SLURM_CONF`` pointing here."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # --- start -------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`SlurmUnavailable` unless this machine can run it (root, binaries)."""
        missing = sorted({pkg for name, pkg in BINARIES.items() if _find(name) is None})
        if missing:
            raise SlurmUnavailable(f"Slurm or munge is not installed (missing Debian "
                                   f"packages: {', '.join(missing)}; make test installs them "
                                   "with scripts/ensure-system-packages.sh)")
        if os.geteuid() != 0:
            raise SlurmUnavailable("a throwaway slurmd must run as root (it starts jobs as "
                                   f"their users); this process runs as uid {os.geteuid()}")
        try:
            pwd.getpwnam(MUNGE_USER)
        except KeyError:
            raise SlurmUnavailable(f"there is no {MUNGE_USER!r} user (the munge package "
                                   "creates it)") from None

    def start(self, timeout: float = 30.0) -> LocalSlurm:
        """Write the config, start the three daemons, wait until the node is idle.

        Raises:
            SlurmUnavailable: what is missing, or the daemon that failed with its log.
        """
        self.check()
        try:
            self._write_files()
            self._start_munge(timeout)
            self._spawn("slurmctld", [_find("slurmctld") or "slurmctld", "-D", "-i", "-f",
                                      str(self.conf)])
            self.started_at = time.monotonic()
            self._spawn("slurmd", [_find("slurmd") or "slurmd", "-D", "-f", str(self.conf),
                                   "-N", self.node])
            self._wait_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_files(self) -> None:
        self.root.chmod(0o755)  # munged (another user) must reach its socket
        munge = self.root / "munge"
        for folder in (munge, self.root / "state", self.root / "spool"):
            folder.mkdir(parents=True, exist_ok=True)
        user = pwd.getpwnam(MUNGE_USER)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (munge, key):
            os.chown(path, user.pw_uid, user.pw_gid)
        munge.chmod(0o755)
        ctld, slurmd = free_port(), free_port()
        self.conf.write_text(f"""# throwaway Slurm written by devtools/localcluster.py
ClusterName=sweeplab
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge}/munge.socket
CryptoType=crypto/munge
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/slurmctld.log
SlurmdLogFile={self.root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
KillWait={KILL_WAIT_S}
MinJobAge=300
InactiveLimit=0
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=4000 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=down Nodes=ALL Default=NO MaxTime=INFINITE State=DOWN
""")

    def _start_munge(self, timeout: float) -> None:
        munge = self.root / "munge"
        user = pwd.getpwnam(MUNGE_USER)
        self._spawn("munged", [_find("munged") or "munged", "-F", "--force",
                               f"--socket={munge}/munge.socket",
                               f"--key-file={munge}/munge.key",
                               f"--log-file={munge}/munged.log",
                               f"--pid-file={munge}/munged.pid",
                               f"--seed-file={munge}/munged.seed"],
                    user=user.pw_uid, group=user.pw_gid)
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged's socket")

    def _spawn(self, name: str, argv: list[str], *, user: int | None = None,
               group: int | None = None) -> None:
        out = (self.root / f"{name}.out").open("wb")
        try:
            self._procs[name] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True, user=user, group=group,
                extra_groups=[] if user is not None else None)
        finally:
            out.close()

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited with status {proc.returncode} "
                                           f"while waiting for {what}: {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise SlurmUnavailable(f"no {what} within {timeout:g} s: "
                                       f"{self.log_tail('slurmd')} {self.log_tail('slurmctld')}")
            time.sleep(0.05)

    def _node_state(self) -> str:
        done = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%T", "--nodes",
                               self.node, "--partition=main"], capture_output=True, text=True,
                              env=self.env, check=False, timeout=30)
        return done.stdout.strip()

    def _wait_idle(self, timeout: float) -> None:
        self._wait(lambda: self._node_state() == "idle", timeout, "idle node in sinfo")

    def log_tail(self, name: str, chars: int = 1500) -> str:
        """The end of a daemon's output and log file, for error messages."""
        texts: list[str] = []
        for path in (self.root / f"{name}.out", self.root / f"{name}.log",
                     self.root / "munge" / f"{name}.log"):
            try:
                texts.append(path.read_text(errors="replace")[-chars:].strip())
            except OSError:
                continue
        return " | ".join(text for text in texts if text) or "(no output)"

    # --- use ---------------------------------------------------------------------------

    def command(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command (``scontrol``, ``squeue``...) against this cluster."""
        return subprocess.run(list(argv), capture_output=True, text=True, env=self.env,
                              check=check, timeout=60)

    # --- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel every job, stop the daemons by pid, remove the directory if ours."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            self.command("scancel", "--full", "--user", str(os.geteuid()), check=False)
            self._wait_jobs_gone(10.0)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._kill_stepds()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _wait_jobs_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.command("squeue", "--noheader", "--format=%i", check=False)
            if done.returncode != 0 or not done.stdout.strip():
                return
            time.sleep(0.1)

    def _kill_stepds(self) -> None:
        """End slurmstepd processes left by this cluster's jobs (found by its SLURM_CONF)."""
        marker = f"SLURM_CONF={self.conf}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if not (entry / "cmdline").read_bytes().startswith(b"slurmstepd"):
                    continue
                if marker not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                continue
            deadline = time.monotonic() + 5
            while not _gone(int(entry.name)) and time.monotonic() < deadline:
                time.sleep(0.02)
