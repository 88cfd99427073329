"""Dispatch overhead: N no-op trials at max parallel 2, against a bare subprocess pool.

Each trial prints one marked metric line and exits. By default it is
``python -S -c "print(<marked line>)"`` (the smallest real trial); ``--noop printf``
uses ``printf '<marked line>\\n'`` instead (only the shell: overhead measured against
almost nothing). Floor: the same command line launched N times by a bare pool of 2
``Popen(shell=True)`` processes, the next started as soon as ``os.wait`` reports one
gone. Measured: (1) the LocalExecutor driven directly (submit, poll, count EXITED),
(2) the whole Runner (random searcher, SQLite store, metric parsing). All three run
the same command line, so all do the same work. Goal: ratio <= 1.3.

Besides wall time it prints the CPU this process spent per trial (the app's own
work, which competes with the trials for the cores) and the CPU of the reaped
children (the trials and their shells), and their sum against the floor's ("cpu
ratio"): when the trials keep every core busy, that is what the wall ratio tends to,
and it moves far less than wall time on a shared machine. With ``--repeats R`` the
three are run R times in turn and the best wall time of each counts.

    .venv/bin/python bench/dispatch.py [--trials 200] [--quick] [--repeats 1]
                                       [--noop python|printf] [--dir PATH]

Ends with one line ``RESULT trials=.. floor_s=.. executor_s=.. runner_s=.. ...``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine.experiment import experiment_from_dict
from app.engine.records import ProcessEventKind, TrialSpec
from app.engine.resume import build_searcher
from app.engine.runner import Runner
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from app.store.store import Store

MARKED_LINE = '#sweeplab {"metric": "loss", "value": 1}'
NOOPS = {
    # The smallest real trial: start the interpreter, report one value, exit.
    "python": (shlex.quote(sys.executable) + " -S -c "
               + shlex.quote(f"print({MARKED_LINE!r})")),
    # Only the shell's builtin: the overhead against (almost) nothing.
    "printf": "printf " + shlex.quote(MARKED_LINE + r"\n"),
}
PARALLEL = 2
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """One measured run: wall seconds, this process's CPU, the reaped children's CPU."""

    wall: float
    cpu: float
    children_cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(work: Callable[[int, Path, str], T], trials: int, root: Path,
            command: str) -> tuple[Timing, T]:
    """Run ``work(trials, root, command)``; its timing and its result."""
    cpu, children = time.process_time(), _children_cpu()
    start = time.perf_counter()
    result = work(trials, root, command)
    wall = time.perf_counter() - start
    return Timing(wall, time.process_time() - cpu, _children_cpu() - children), result


def template(command: str) -> str:
    """``command`` as a Sweeplab command template (its braces literal)."""
    return command.replace("{", "{{").replace("}", "}}")


def floor(trials: int, workdir: Path, command: str) -> None:
    """A bare pool of PARALLEL shells running ``command``."""
    running: dict[int, subprocess.Popen[bytes]] = {}
    launched = 0
    while launched < trials or running:
        while launched < trials and len(running) < PARALLEL:
            proc = subprocess.Popen(command, shell=True, cwd=workdir,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            running[proc.pid] = proc
            launched += 1
        pid, _ = os.wait()
        if pid in running:  # reaped by os.wait: keep Popen from waiting again
            running.pop(pid).returncode = 0


def executor_run(trials: int, root: Path, command: str) -> None:
    """The LocalExecutor on its own: submit while there is room, poll events."""
    code = root / "code"
    code.mkdir(exist_ok=True)
    snapshot = take_snapshot(code, root / "snapshots")
    executor = LocalExecutor(root / "trials-exec", gpus=[], cpu_slots=PARALLEL)
    submitted = exited = 0
    try:
        while exited < trials:
            while submitted < trials and executor.free_slots() > 0:
                submitted += 1
                executor.submit(TrialSpec(submitted, 1, template(command), {}, snapshot))
            for event in executor.poll(0.05):
                if event.kind is ProcessEventKind.START_FAILED:
                    raise SystemExit(f"executor: {event.message}")
                if event.kind is ProcessEventKind.EXITED:
                    exited += 1
    finally:
        executor.close()


def runner_run(trials: int, root: Path, command: str) -> float:
    """The whole runner (timed by the caller); returns its poll interval in seconds."""
    code = root / "code"
    code.mkdir(exist_ok=True)
    config = experiment_from_dict({
        "version": 1, "name": "dispatch", "code_dir": str(code), "command": template(command),
        "kpi": {"name": "loss"}, "algorithm": {"name": "random"},
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0, "max": 1,
                                           "default": 0.5}]},
        "limits": {"max_trials": trials, "max_parallel": PARALLEL},
    }, code)
    with Store(f"sqlite:///{root / 'bench.db'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        snapshot = take_snapshot(code, root / "snapshots")
        executor = LocalExecutor(root / "trials-run", gpus=[], cpu_slots=PARALLEL)
        runner = Runner(store, experiment.id, config, [executor],
                        build_searcher(config, store, experiment.id), snapshot)
        try:
            runner.run()
        finally:
            executor.close()
        done = store.list_trials(experiment.id)
        bad = [t for t in done if t.state.value != "completed"]
        if len(done) != trials or bad:
            raise SystemExit(f"runner: {len(done)} trials, {len(bad)} not completed")
    return runner._poll  # the default poll_interval, reported


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 trials: a smoke run")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the three R times in turn; the best wall time counts")
    parser.add_argument("--noop", choices=sorted(NOOPS), default="python",
                        help="the trial command (default: python -S -c print)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where trial directories go (default: the system temp dir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials = 20
    if args.trials < 1:
        parser.error(f"--trials must be >= 1, got {args.trials}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir} is not a directory")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and the RESULT line."""
    args = parse_args(argv)
    trials, command = args.trials, NOOPS[args.noop]
    runs: dict[str, list[Timing]] = {"floor": [], "executor": [], "runner": []}
    poll = 0.0
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for repeat in range(args.repeats):
            root = Path(tmp) / str(repeat)
            root.mkdir()
            for name, work in (("floor", floor), ("executor", executor_run)):
                runs[name].append(measure(work, trials, root, command)[0])
            timing, poll = measure(runner_run, trials, root, command)
            runs["runner"].append(timing)
    best = {name: min(timings, key=lambda t: t.wall) for name, timings in runs.items()}
    base = best["floor"].wall
    base_cpu = best["floor"].cpu + best["floor"].children_cpu
    print(f"{trials} trials of `{args.noop}` at max parallel {PARALLEL}, nproc "
          f"{os.cpu_count()}, load {os.getloadavg()[0]:.2f}, best of {args.repeats}, "
          f"runner poll interval {poll * 1000:.0f} ms (default)")
    print(f"{'what':34} {'seconds':>8} {'ms/trial':>9} {'ratio':>6} "
          f"{'app cpu ms/trial':>17} {'trial cpu ms/trial':>19} {'cpu ratio':>10}")
    labels = {"floor": "bare subprocess pool (floor)", "executor": "LocalExecutor",
              "runner": "Runner (store, searcher, parsing)"}
    for name, label in labels.items():
        t = best[name]
        print(f"{label:34} {t.wall:8.2f} {t.wall / trials * 1000:9.1f} {t.wall / base:6.2f} "
              f"{t.cpu / trials * 1000:17.2f} {t.children_cpu / trials * 1000:19.2f} "
              f"{(t.cpu + t.children_cpu) / base_cpu:10.2f}")
    if args.repeats > 1:
        for name in labels:
            walls = ", ".join(f"{t.wall:.2f}" for t in runs[name])
            print(f"  {name} wall times: {walls}")
    executor_s, runner_s = best["executor"].wall, best["runner"].wall
    print(f"RESULT trials={trials} floor_s={base:.3f} executor_s={executor_s:.3f} "
          f"runner_s={runner_s:.3f} executor_ratio={executor_s / base:.2f} "
          f"runner_ratio={runner_s / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
