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
                                       [--noop python|printf] [--dir PATH] [--profile]

``--profile`` then runs the LocalExecutor and the Runner once more and prints where
the app's CPU goes per trial: each thread's CPU (the runner thread, the executor's
launcher and follower; measured with ``time.thread_time``, no profiler), then the
functions taking most of each thread's CPU under cProfile (timed by ``thread_time``;
the profiler itself slows them).

Ends with one line ``RESULT trials=.. floor_s=.. executor_s=.. runner_s=.. ...``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
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
from app.remote import local as local_module
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


class RunnerRun:
    """The whole runner: its store, experiment, snapshot and searcher are made (hyperopt
    imported) before the clock starts, as a run's setup is not dispatch; :meth:`__call__`
    is timed and returns its poll interval in seconds."""

    def __init__(self, trials: int, root: Path, command: str) -> None:
        code = root / "code"
        code.mkdir(exist_ok=True)
        self.trials = trials
        self.config = experiment_from_dict({
            "version": 1, "name": "dispatch", "code_dir": str(code),
            "command": template(command), "kpi": {"name": "loss"},
            "algorithm": {"name": "random"},
            "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                               "distribution": "uniform", "min": 0,
                                               "max": 1, "default": 0.5}]},
            "limits": {"max_trials": trials, "max_parallel": PARALLEL},
        }, code)
        self.root = root
        self.store = Store(f"sqlite:///{root / 'bench.db'}")
        self.experiment = self.store.create_experiment(self.config.name,
                                                       self.config.to_dict())
        self.snapshot = take_snapshot(code, root / "snapshots")
        self.searcher = build_searcher(self.config, self.store, self.experiment.id)

    def __call__(self, trials: int, root: Path, command: str) -> float:
        executor = LocalExecutor(self.root / "trials-run", gpus=[], cpu_slots=PARALLEL)
        runner = Runner(self.store, self.experiment.id, self.config, [executor],
                        self.searcher, self.snapshot)
        try:
            runner.run()
        finally:
            executor.close()
        return runner._poll  # the default poll_interval, reported

    def check(self) -> None:
        """Every trial stored COMPLETED; then the store is closed."""
        with self.store:
            done = self.store.list_trials(self.experiment.id)
        bad = [t for t in done if t.state.value != "completed"]
        if len(done) != self.trials or bad:
            raise SystemExit(f"runner: {len(done)} trials, {len(bad)} not completed")


class ThreadCpu:
    """CPU seconds of the executor's launcher and follower threads (and, with
    ``profile``, a cProfile of each), recorded while installed."""

    ROLES = ("_launcher", "_follower")

    def __init__(self, profile: bool) -> None:
        self.cpu: dict[str, float] = {}
        self.profiles: dict[str, cProfile.Profile] = {}
        self._profile = profile
        self._saved = {role: getattr(LocalExecutor, role) for role in self.ROLES}

    def __enter__(self) -> ThreadCpu:
        for role, original in self._saved.items():
            setattr(LocalExecutor, role, self._wrap(role, original))
        return self

    def __exit__(self, *_exc: object) -> None:
        for role, original in self._saved.items():
            setattr(LocalExecutor, role, original)

    def _wrap(self, role: str, original: Callable[[LocalExecutor], None]
              ) -> Callable[[LocalExecutor], None]:
        def measured(executor: LocalExecutor) -> None:
            profiler = cProfile.Profile(time.thread_time) if self._profile else None
            start = time.thread_time()
            if profiler is not None:
                profiler.enable()
            try:
                original(executor)
            finally:
                if profiler is not None:
                    profiler.disable()
                    self.profiles[role] = profiler
                self.cpu[role] = self.cpu.get(role, 0.0) + time.thread_time() - start
        return measured


def where_cpu_goes(trials: int, root: Path, command: str) -> None:
    """Print each thread's CPU per trial, then the top functions of each under cProfile."""
    assert local_module.LocalExecutor is LocalExecutor
    print(f"\nwhere the app's CPU goes ({trials} trials; thread_time, no profiler):")
    for name in ("executor", "runner"):
        folder = root / f"profile-{name}"
        folder.mkdir()
        with ThreadCpu(profile=False) as threads:
            main_cpu, process_cpu = time.thread_time(), time.process_time()
            if name == "executor":
                executor_run(trials, folder, command)
            else:
                RunnerRun(trials, folder, command)(trials, folder, command)
            main_cpu = time.thread_time() - main_cpu
            process_cpu = time.process_time() - process_cpu
        parts = {"main thread (the runner loop)" if name == "runner"
                 else "main thread (submit, poll)": main_cpu,
                 "launcher thread (trial folder, spawn)": threads.cpu.get("_launcher", 0.0),
                 "follower thread (log, exit, leftovers)": threads.cpu.get("_follower", 0.0)}
        rest = process_cpu - sum(parts.values())
        print(f"  {name}: {process_cpu / trials * 1000:.2f} ms per trial in all")
        for label, seconds in parts.items():
            print(f"    {label:40} {seconds / trials * 1000:6.2f} ms")
        print(f"    {'other threads (stop timers, GC)':40} {rest / trials * 1000:6.2f} ms")
    folder = root / "profile-cprofile"
    folder.mkdir()
    runner = RunnerRun(trials, folder, command)
    main = cProfile.Profile(time.thread_time)
    with ThreadCpu(profile=True) as threads:
        main.enable()
        runner(trials, folder, command)
        main.disable()
    runner.check()
    for label, profiler in (("runner thread", main),
                            ("launcher thread", threads.profiles.get("_launcher")),
                            ("follower thread", threads.profiles.get("_follower"))):
        if profiler is None:
            continue
        print(f"\n  {label}, under cProfile: own CPU ms per trial, top 12")
        stats = pstats.Stats(profiler)
        rows = []
        for (path, line, function), (_, calls, own, _cum, _) in stats.stats.items():  # type: ignore[attr-defined]
            if function in WAITING:
                continue
            rows.append((own, calls, f"{Path(path).name}:{line}({function})"))
        for own, calls, where in sorted(rows, reverse=True)[:12]:
            print(f"    {own / trials * 1000:7.3f}  {calls / trials:6.1f} calls  {where}")


WAITING = {"<method 'acquire' of '_thread.lock' objects>",
           "<method 'get' of '_queue.SimpleQueue' objects>",
           "<method 'poll' of 'select.poll' objects>"}
"""Where a thread waits rather than works: left out of the profile's top list."""


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
    parser.add_argument("--profile", action="store_true",
                        help="then print where the app's CPU goes per trial, by thread")
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
            runner = RunnerRun(trials, root, command)
            timing, poll = measure(runner, trials, root, command)
            runner.check()
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
    if args.profile:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            where_cpu_goes(trials, Path(tmp), command)
    executor_s, runner_s = best["executor"].wall, best["runner"].wall
    print(f"RESULT trials={trials} floor_s={base:.3f} executor_s={executor_s:.3f} "
          f"runner_s={runner_s:.3f} executor_ratio={executor_s / base:.2f} "
          f"runner_ratio={runner_s / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
