"""Dispatch overhead: N no-op trials at max parallel 2, against a bare subprocess pool.

Each trial is ``python -S -c "print(<marked line>)"``: the smallest real trial.
Floor: the same command line launched N times by a bare pool of 2 ``Popen(shell=True)``
processes, the next started as soon as one exits. Measured: (1) the LocalExecutor
driven directly (submit, poll, count EXITED), (2) the whole Runner (random searcher,
SQLite store, metric parsing). Every trial prints one marked metric line, so all
three do the same work. Goal: ratio <= 1.3.

    .venv/bin/python bench/dispatch.py [--trials 200] [--quick]

Ends with one line ``RESULT trials=.. floor_s=.. executor_s=.. runner_s=.. ...``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine.experiment import experiment_from_dict
from app.engine.records import ProcessEventKind, TrialSpec
from app.engine.resume import build_searcher
from app.engine.runner import Runner
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from app.store.store import Store

# The smallest real trial: start the interpreter, report one value, exit.
COMMAND = (shlex.quote(sys.executable) + " -S -c "
           + shlex.quote("print('#sweeplab {\"metric\": \"loss\", \"value\": 1}')"))
TEMPLATE = COMMAND.replace("{", "{{").replace("}", "}}")  # literal braces in a template
PARALLEL = 2


def floor(trials: int, workdir: Path) -> float:
    """A bare pool of PARALLEL shells running COMMAND."""
    start = time.perf_counter()
    running: dict[int, subprocess.Popen[bytes]] = {}
    launched = 0
    while launched < trials or running:
        while launched < trials and len(running) < PARALLEL:
            proc = subprocess.Popen(COMMAND, shell=True, cwd=workdir,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            running[proc.pid] = proc
            launched += 1
        pid, _ = os.wait()
        proc = running.pop(pid, None)
        if proc is not None:
            proc.returncode = 0
    return time.perf_counter() - start


def executor_run(trials: int, root: Path) -> float:
    """The LocalExecutor on its own: submit while there is room, poll events."""
    code = root / "code"
    code.mkdir(exist_ok=True)
    snapshot = take_snapshot(code, root / "snapshots")
    executor = LocalExecutor(root / "trials-exec", gpus=[], cpu_slots=PARALLEL)
    start = time.perf_counter()
    submitted = exited = 0
    try:
        while exited < trials:
            while submitted < trials and executor.free_slots() > 0:
                submitted += 1
                executor.submit(TrialSpec(submitted, 1, TEMPLATE, {}, snapshot))
            for event in executor.poll(0.05):
                if event.kind in (ProcessEventKind.EXITED, ProcessEventKind.START_FAILED):
                    exited += 1
    finally:
        executor.close()
    return time.perf_counter() - start


def runner_run(trials: int, root: Path) -> tuple[float, float]:
    """The whole runner; returns (seconds, poll interval)."""
    code = root / "code"
    code.mkdir(exist_ok=True)
    config = experiment_from_dict({
        "version": 1, "name": "dispatch", "code_dir": str(code), "command": TEMPLATE,
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
        poll = runner._poll
        start = time.perf_counter()
        runner.run()
        seconds = time.perf_counter() - start
        executor.close()
        done = store.list_trials(experiment.id)
        bad = [t for t in done if t.state.value != "completed"]
        if len(done) != trials or bad:
            raise SystemExit(f"runner: {len(done)} trials, {len(bad)} not completed")
    return seconds, poll


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 trials: a smoke run")
    args = parser.parse_args(argv)
    trials = 20 if args.quick else args.trials
    if trials < 1:
        parser.error("--trials must be >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = floor(trials, root)
        executor_s = executor_run(trials, root)
        runner_s, poll = runner_run(trials, root)
    rows = [("bare subprocess pool (floor)", base), ("LocalExecutor", executor_s),
            ("Runner (store, searcher, parsing)", runner_s)]
    print(f"{trials} no-op trials at max parallel {PARALLEL}, nproc {os.cpu_count()}, "
          f"runner poll interval {poll * 1000:.0f} ms")
    print(f"{'what':36} {'seconds':>8} {'ms/trial':>9} {'ratio':>6}")
    for what, seconds in rows:
        print(f"{what:36} {seconds:8.2f} {seconds / trials * 1000:9.1f} {seconds / base:6.2f}")
    print(f"RESULT trials={trials} floor_s={base:.3f} executor_s={executor_s:.3f} "
          f"runner_s={runner_s:.3f} executor_ratio={executor_s / base:.2f} "
          f"runner_ratio={runner_s / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
