"""Soak: many parallel trials over local sshd servers, each streaming metrics, for
minutes — and proof that no point is lost and no trial is stuck.

``--servers`` real ``sshd`` processes on 127.0.0.1 (the test suite's :class:`Sshd`),
``--slots`` trials at a time on each, so servers x slots trials run at once. Every
trial prints ``--rate`` metric lines per second for ``--trial-seconds`` seconds; new
trials start as old ones end until ``--minutes`` have passed (then the experiment's
time budget stops the last ones, which keep what they reported). At the end every
trial's stored points are compared with the ``#sweeplab`` lines of its
``output.log``: lost = lines in the log but not in the database, doubled = stored more
than once, stuck = trials not finished when the runner ended.

    .venv/bin/python bench/soak.py [--minutes 10] [--servers 4] [--slots 16]
                                  [--rate 10] [--trial-seconds 30]

Ends with one line ``RESULT minutes=.. trials=.. points=.. points_per_s=.. lost=..
doubled=.. stuck=..``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.application.wiring import build_runner
from app.engine.experiment import experiment_from_dict
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.ssh.sshd import Sshd, keygen

TRIAL = """\
import json, os, sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
count = int(rate * seconds)
start = time.monotonic()
try:
    for step in range(1, count + 1):
        print("#sweeplab " + json.dumps({"metric": "loss", "value": 1.0 / step, "step": step}),
              flush=True)
        delay = start + step / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
except KeyboardInterrupt:
    pass
"""


@dataclass(frozen=True)
class SoakResult:
    """What a soak run saw."""

    seconds: float
    trials: int
    points: int
    lost: int
    doubled: int
    stuck: int

    @property
    def points_per_s(self) -> float:
        """Stored points per second of the run."""
        return self.points / self.seconds if self.seconds else 0.0


def run_soak(root: Path, *, servers: int, slots: int, minutes: float, rate: float,
             trial_seconds: float) -> SoakResult:
    """Start the servers, run the experiment for ``minutes``, count what was lost."""
    key = keygen(root / "client" / "id_ed25519")
    daemons = [Sshd(root / f"sshd{i}", key.with_name("id_ed25519.pub")).start()
               for i in range(servers)]
    os.environ["SWEEPLAB_HOME"] = str(root / "home")
    code = root / "code"
    code.mkdir()
    (code / "trial.py").write_text(TRIAL)
    names = [f"soak{i}" for i in range(1, servers + 1)]
    config = experiment_from_dict({
        "version": 1, "name": "soak", "code_dir": str(code),
        "command": f"{{python}} trial.py {rate} {trial_seconds}",
        "kpi": {"name": "loss"}, "algorithm": {"name": "random"},
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0, "max": 1,
                                           "default": 0.5}]},
        "limits": {"max_trials": 1_000_000, "max_parallel": servers * slots,
                   "max_seconds": minutes * 60},
        "hosts": names,
    }, code)
    try:
        with Store(f"sqlite:///{root / 'soak.db'}") as store:
            trusted = KnownHosts(root / "home" / "known_hosts", system_file=None)
            for name, daemon in zip(names, daemons, strict=True):
                ServerProfiles(store).add(ServerProfile(
                    name, "127.0.0.1", getpass.getuser(), port=daemon.port,
                    auth=AuthKind.KEY, key_file=str(key), workdir=str(root / "remote" / name),
                    python=sys.executable, max_parallel=slots))
                trusted.accept("127.0.0.1", daemon.port, daemon.host_key)
            experiment = store.create_experiment(config.name, config.to_dict())
            runner, pool = build_runner(store, experiment, fresh_snapshot=True, grace=2.0)
            start = time.perf_counter()
            try:
                runner.run()
            finally:
                seconds = time.perf_counter() - start
                pool.close()
            return _count(store, experiment.id, seconds)
    finally:
        for daemon in daemons:
            daemon.stop()


def _count(store: Store, experiment_id: int, seconds: float) -> SoakResult:
    trials = store.list_trials(experiment_id)
    points = lost = doubled = 0
    for trial in trials:
        stored = [p.step for p in store.get_metrics(trial.id, "loss")]
        points += len(stored)
        doubled += len(stored) - len(set(stored))
        logged = set()
        if trial.trial_dir:
            for line in (Path(trial.trial_dir) / "output.log").read_text().splitlines():
                if line.startswith("#sweeplab "):
                    logged.add(json.loads(line.split(" ", 1)[1])["step"])
        lost += len(logged - set(stored))
    stuck = sum(1 for t in trials if not t.state.is_finished())
    return SoakResult(seconds, len(trials), points, lost, doubled, stuck)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0, help="metric lines per second")
    parser.add_argument("--trial-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    for name in ("minutes", "servers", "slots", "rate", "trial_seconds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the figures and the RESULT line."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(Path(tmp), servers=args.servers, slots=args.slots,
                          minutes=args.minutes, rate=args.rate, trial_seconds=args.trial_seconds)
    print(f"{args.servers} sshd servers x {args.slots} slots, {args.rate:g} points/s per "
          f"trial, {args.trial_seconds:g} s trials, nproc {os.cpu_count()}")
    print(f"{result.trials} trials, {result.points} points in {result.seconds:.0f} s "
          f"({result.points_per_s:.0f} points/s); lost {result.lost}, doubled "
          f"{result.doubled}, stuck {result.stuck}")
    print(f"RESULT minutes={args.minutes:g} trials={result.trials} points={result.points} "
          f"points_per_s={result.points_per_s:.0f} lost={result.lost} "
          f"doubled={result.doubled} stuck={result.stuck}")
    return 0 if result.lost == result.doubled == result.stuck == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
