"""SSH dispatch overhead: N no-op trials over 3 real sshd servers, against the floor of
the same command run directly over already open paramiko channels.

Three ``/usr/sbin/sshd`` processes on 127.0.0.1 (the test suite's :class:`Sshd`), each
taking ``--slots`` trials at a time. Floor: one open paramiko connection per server
(TCP_NODELAY) and ``--slots`` threads per server, each running the trial command on a
fresh exec channel as soon as the previous one ends. Measured: the whole Runner over a
Pool of three SshExecutors (random searcher, SQLite store, metric parsing, snapshot
unpacked per trial, detached wrapper, log followed, exit code read). Both run the same
command line. Goal: ratio <= 1.5.

sshd runs every command through the user's login shell, and bash then reads
``~/.bashrc``. ``--bashrc empty`` (the default) gives the servers' sessions a ``HOME``
holding an empty ``.bashrc`` (sshd's ``SetEnv HOME=...``), so the shell does nothing;
``--bashrc own`` keeps the user's own (on the development machine root's, which runs
``pyenv init``: ~100 ms a command), to measure what a heavy ``.bashrc`` adds. Besides
the ratio it prints the overhead per trial in milliseconds (the runner's wall time
less the floor's, per trial) and the login shell's own cost (median of 20 ``exec
true`` over an open connection).

    .venv/bin/python bench/dispatch_ssh.py [--trials 200] [--slots 2] [--quick]
                                           [--bashrc empty|own] [--profile]

``--profile`` also prints, for the Runner's part, this process's CPU per trial (the
runner, paramiko's threads and ciphers: what is ours to cut) and the commands it ran
on the servers per trial, by kind (each a fresh exec channel, at least one round trip
and a login shell).

Ends with one line ``RESULT trials=.. floor_s=.. runner_s=.. ratio=.. ...``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paramiko

from app.application.wiring import build_runner
from app.engine.experiment import experiment_from_dict
from app.engine.records import TrialRecord
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, ServerProfile
from app.remote.ssh.stream import HelperStream
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.ssh.sshd import Sshd, keygen

SERVERS = 3
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dispatch import NOOPS, template  # noqa: E402  (the same no-op trial as bench/dispatch.py)


def floor(servers: list[Sshd], key: Path, trials: int, slots: int, command: str) -> float:
    """Seconds to run ``command`` ``trials`` times over open channels, ``slots`` per server."""
    clients = []
    for server in servers:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        transport.connect(username=getpass.getuser(), pkey=paramiko.PKey.from_path(key))
        clients.append(transport)
    left = [trials]
    lock = threading.Lock()
    failures: list[str] = []

    def worker(transport: paramiko.Transport) -> None:
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            channel = transport.open_session()
            channel.exec_command(command)
            while channel.recv(65536):
                pass
            if channel.recv_exit_status() != 0:
                failures.append(channel.recv_stderr(65536).decode(errors="replace"))
            channel.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in clients for _ in range(slots)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    for transport in clients:
        transport.close()
    if failures:
        raise SystemExit(f"floor: {len(failures)} commands failed: {failures[0]}")
    return seconds


def shell_ms(server: Sshd, key: Path, runs: int = 20) -> float:
    """Median milliseconds of ``exec true`` on a fresh channel of an open connection: what
    the login shell costs every command."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock)
    transport.connect(username=getpass.getuser(), pkey=paramiko.PKey.from_path(key))
    times = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            channel = transport.open_session()
            channel.exec_command("exec true")
            channel.recv_exit_status()
            channel.close()
            times.append((time.perf_counter() - start) * 1000)
    finally:
        transport.close()
    return statistics.median(times)


class Commands:
    """While installed: each command the app runs on a server (paramiko's
    ``exec_command``), by kind (its first two words), and when each trial helper's
    control lines (``@ready``, ``@started``, ``@end``) arrived after its command was
    sent."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[float]] = {}
        self.helpers: list[dict[str, float]] = []
        self._lock = threading.Lock()
        self._saved = (paramiko.Channel.exec_command, HelperStream._control)

    def __enter__(self) -> Commands:
        (saved, saved_control), by_kind, lock = self._saved, self.by_kind, self._lock
        helpers = self.helpers

        def exec_command(channel: paramiko.Channel, command: str) -> None:
            kind = " ".join(command.split()[:2])[:40]
            times = {"sent": time.perf_counter()}
            channel.bench_times = times  # type: ignore[attr-defined]
            with lock:
                by_kind.setdefault(kind, []).append(times["sent"])
                helpers.append(times)
            saved(channel, command)

        def control(stream: HelperStream, line: str) -> None:
            times = getattr(stream.channel, "bench_times", None)
            if times is not None and line.startswith("@"):
                times.setdefault(line.split()[0][1:], time.perf_counter())
            saved_control(stream, line)

        paramiko.Channel.exec_command = exec_command  # type: ignore[method-assign]
        HelperStream._control = control  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        paramiko.Channel.exec_command = self._saved[0]  # type: ignore[method-assign]
        HelperStream._control = self._saved[1]  # type: ignore[method-assign]

    def spans(self) -> dict[str, float]:
        """Median ms between a launch helper's command sent and its control lines."""
        steps = [("sent", "ready"), ("ready", "started"), ("started", "end")]
        found: dict[str, float] = {}
        for first, then in steps:
            values = [(h[then] - h[first]) * 1000 for h in self.helpers
                      if first in h and then in h]
            if values:
                found[f"{first} to {then}"] = statistics.median(values)
        return found


def server_cpu(servers: list[Sshd], timeout: float = 30.0) -> float:
    """CPU seconds the servers' ended connections used (their sshd processes, login
    shells and every command they waited for; a detached trial is not among them),
    once every connection has closed: the listeners' reaped children's CPU."""
    deadline = time.monotonic() + timeout
    while any(server.session_pids() for server in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    total = 0.0
    for server in servers:
        assert server.proc is not None
        fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


def trial_spans(records: list[TrialRecord]) -> dict[str, float]:
    """Median milliseconds of each part of a trial's life: created to started (the
    launch: helper, files, snapshot, the intent stored, the wrapper's start), started
    to ended (the command, and until the end is seen and told)."""
    def median(pairs: list[tuple[datetime | None, datetime | None]]) -> float:
        spans = [(b - a).total_seconds() * 1000 for a, b in pairs if a and b]
        return statistics.median(spans) if spans else float("nan")

    return {"created to started": median([(t.created_at, t.started_at) for t in records]),
            "started to ended": median([(t.started_at, t.ended_at) for t in records])}


def runner_run(root: Path, servers: list[Sshd], key: Path, trials: int, slots: int,
               command: str, profile: Commands | None = None) -> float:
    """Seconds for the whole runner to run ``trials`` trials over the servers."""
    os.environ["SWEEPLAB_HOME"] = str(root / "home")
    code = root / "code"
    code.mkdir(parents=True)
    names = [f"lab{i}" for i in range(1, len(servers) + 1)]
    config = experiment_from_dict({
        "version": 1, "name": "dispatch-ssh", "code_dir": str(code),
        "command": template(command), "kpi": {"name": "loss"}, "algorithm": {"name": "random"},
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0, "max": 1,
                                           "default": 0.5}]},
        "limits": {"max_trials": trials, "max_parallel": slots * len(servers)},
        "hosts": names,
    }, code)
    with Store(f"sqlite:///{root / 'bench.db'}") as store:
        trusted = KnownHosts(root / "home" / "known_hosts", system_file=None)
        for name, server in zip(names, servers, strict=True):
            ServerProfiles(store).add(ServerProfile(
                name, "127.0.0.1", getpass.getuser(), port=server.port, auth=AuthKind.KEY,
                key_file=str(key), workdir=str(root / "remote" / name), python=sys.executable,
                max_parallel=slots))
            trusted.accept("127.0.0.1", server.port, server.host_key)
        experiment = store.create_experiment(config.name, config.to_dict())
        runner, pool = build_runner(store, experiment, fresh_snapshot=True)
        for host in pool.hosts:  # connect first, as the floor's connections are open
            host.connect()  # type: ignore[attr-defined]
        start, cpu = time.perf_counter(), time.process_time()
        try:
            if profile is not None:
                with profile:
                    runner.run()
            else:
                runner.run()
        finally:
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            pool.close()
        if profile is not None:
            print(f"Runner: this process's CPU {cpu / trials * 1000:.1f} ms per trial "
                  "(runner, paramiko threads, ciphers); commands run on the servers per "
                  "trial, by kind:")
            for kind, starts in sorted(profile.by_kind.items(), key=lambda kv: -len(kv[1])):
                print(f"  {len(starts) / trials:6.2f}  {kind}")
            spans = trial_spans(store.list_trials(experiment.id))
            print("a trial's life, median ms (from the stored times): "
                  + ", ".join(f"{label} {value:.0f}" for label, value in spans.items()))
            print("its helper, median ms from its command sent: "
                  + ", ".join(f"{label} {value:.0f}"
                              for label, value in profile.spans().items()))
        done = store.list_trials(experiment.id)
        bad = [t for t in done if t.state.value != "completed"]
        if len(done) != trials or bad:
            detail = bad[0].error if bad else ""
            raise SystemExit(f"runner: {len(done)} trials, {len(bad)} not completed {detail}")
    return seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--slots", type=int, default=2, help="trials at a time per server")
    parser.add_argument("--quick", action="store_true", help="24 trials: a smoke run")
    parser.add_argument("--noop", choices=sorted(NOOPS), default="python")
    parser.add_argument("--profile", action="store_true",
                        help="also print the Runner's CPU and its server commands per trial")
    parser.add_argument("--bashrc", choices=("empty", "own"), default="empty",
                        help="the servers' login shell: an empty ~/.bashrc (default) or "
                             "the user's own")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials = 24
    if args.trials < 1:
        parser.error(f"--trials must be >= 1, got {args.trials}")
    if args.slots < 1:
        parser.error(f"--slots must be >= 1, got {args.slots}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the servers, measure floor and runner, print the RESULT line."""
    args = parse_args(argv)
    command = NOOPS[args.noop]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = keygen(root / "client" / "id_ed25519")
        env: dict[str, str] = {}
        if args.bashrc == "empty":
            home = root / "login-home"
            home.mkdir()
            (home / ".bashrc").write_text("")
            env["HOME"] = str(home)
        servers = [Sshd(root / f"sshd{i}", key.with_name("id_ed25519.pub"), env=env).start()
                   for i in range(SERVERS)]
        try:
            shell = shell_ms(servers[0], key)
            before = server_cpu(servers)
            base = floor(servers, key, args.trials, args.slots, command)
            floor_cpu = server_cpu(servers) - before
            runner_s = runner_run(root / "run", servers, key, args.trials, args.slots, command,
                                  Commands() if args.profile else None)
            runner_cpu = server_cpu(servers) - before - floor_cpu
        finally:
            for server in servers:
                server.stop()
    ratio = runner_s / base
    overhead = (runner_s - base) / args.trials * 1000
    print(f"{args.trials} trials of `{args.noop}` over {SERVERS} sshd servers x {args.slots} "
          f"slots, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; ~/.bashrc "
          f"{args.bashrc}: `exec true` takes {shell:.1f} ms (median of 20)")
    print(f"{'what':42} {'seconds':>8} {'ms/trial':>9} {'ratio':>6}")
    for label, seconds in (("open paramiko channels (floor)", base),
                           ("Runner over 3 SshExecutors", runner_s)):
        print(f"{label:42} {seconds:8.2f} {seconds / args.trials * 1000:9.1f} "
              f"{seconds / base:6.2f}")
    print(f"overhead: {overhead:.1f} ms per trial (runner less floor, wall, "
          f"{args.slots * SERVERS} at a time)")
    print(f"the servers' CPU per trial: floor {floor_cpu / args.trials * 1000:.1f} ms (sshd, "
          f"the shell, the trial), runner {runner_cpu / args.trials * 1000:.1f} ms (sshd, "
          "the shell, the helper; the detached trial not counted)")
    print(f"RESULT trials={args.trials} bashrc={args.bashrc} shell_ms={shell:.1f} "
          f"floor_s={base:.3f} runner_s={runner_s:.3f} ratio={ratio:.2f} "
          f"overhead_ms_per_trial={overhead:.1f} "
          f"server_cpu_ms_per_trial={runner_cpu / args.trials * 1000:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
