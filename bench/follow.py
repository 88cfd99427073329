"""Following a run another program drives: milliseconds per look, on the GUI thread.

A SQLite store gets one experiment of ``--trials`` trials, finished an hour ago but for
``--running`` trials that report output between two looks (what a terminal
``sweeplab run`` of a long sweep writes). Each round every running trial stores a
metric point, then both ways of looking are timed, in turn:

- the baseline, what the window did before: read every trial (``Store.list_trials``);
- :class:`~app.application.following.Follower`: read the trials changed since the last look
  (``list_trials(changed_since=...)``, indexed) and their new points.

    .venv/bin/python bench/follow.py [--trials 500 2000 5000] [--running 16] [--rounds 20]
                                     [--quick]

One row per ``--trials`` size, all from the same run. Ends with one line
``RESULT running=.. full_ms_N=.. follow_ms_N=.. ratio_N=.. ...``: medians over the
rounds; each ratio is full_ms / follow_ms of the same size, as printed.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.application.following import Follower
from app.engine.records import MetricPoint
from app.engine.trial import TrialState
from app.store.store import Store


def ms(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[500, 2000, 5000],
                        help="trials of the experiment, one measurement per size")
    parser.add_argument("--running", type=int, default=16, help="trials reporting meanwhile")
    parser.add_argument("--rounds", type=int, default=20, help="looks timed, each way")
    parser.add_argument("--quick", action="store_true", help="500 trials, 5 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.rounds = [500], 5
    if min(args.trials) < args.running or args.running < 1 or args.rounds < 1:
        parser.error("--trials must be >= --running >= 1 and --rounds >= 1")
    print(f"{'trials':>7} {'every trial (before) ms':>24} {'Follower.poll ms':>17} "
          f"{'ratio':>6}   (medians of {args.rounds} looks; max in brackets)")
    figures = []
    for size in args.trials:
        full, follow = measure(size, args.running, args.rounds)
        full_ms, follow_ms = statistics.median(full), statistics.median(follow)
        ratio = full_ms / follow_ms
        print(f"{size:>7} {full_ms:>15.2f} ({max(full):6.1f}) {follow_ms:>9.2f} "
              f"({max(follow):5.1f}) {ratio:>6.1f}")
        figures.append(f"full_ms_{size}={full_ms:.2f} follow_ms_{size}={follow_ms:.2f} "
                       f"ratio_{size}={ratio:.1f}")
    print(f"RESULT running={args.running} {' '.join(figures)}")
    return 0


def measure(size: int, running_count: int, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of each look, every trial read and Follower.poll, ``rounds`` each."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "db.sqlite"
        with Store(f"sqlite:///{path}") as store:
            experiment = store.create_experiment("sweep", {}).id
            params = {"lr": 0.001, "optimizer": {"_name": "adam", "beta1": 0.9}, "layers": 4}
            trials = [store.create_trial(experiment, params) for _ in range(size)]
            with sqlite3.connect(path) as raw:  # the run's finished trials: an hour old
                raw.execute("UPDATE trials SET updated_at = datetime(updated_at, '-1 hour')")
            running = [store.update_trial(t.id, state=TrialState.RUNNING)
                       for t in trials[:running_count]]
            follower = Follower(store, store.get_experiment(experiment),
                                store.list_trials(experiment), [])
            full, follow = [], []
            for round_ in range(1, rounds + 1):
                for trial in running:
                    point = MetricPoint(trial.id, "loss", 1 / round_, round_, time.time())
                    store.add_output(trial.id, [point], round_ * 100, None)
                full.append(ms(lambda: store.list_trials(experiment)))
                follow.append(ms(follower.poll))
    return full, follow


if __name__ == "__main__":
    sys.exit(main())
