"""Following a run another program drives: milliseconds per look, on the GUI thread.

A SQLite store gets one experiment of ``--trials`` trials, finished an hour ago but for
``--running`` trials that report output between two looks (what a terminal
``sweeplab run`` of a long sweep writes). Each round every running trial stores a
metric point, then both ways of looking are timed, in turn:

- the baseline, what the window did before: read every trial (``Store.list_trials``);
- :class:`~app.application.following.Follower`: read the trials changed since the last look
  (``list_trials(changed_since=...)``, indexed) and their new points.

    .venv/bin/python bench/follow.py [--trials 5000] [--running 16] [--rounds 20] [--quick]

Ends with one line ``RESULT trials=.. running=.. full_ms=.. follow_ms=.. ratio=..``:
medians over the rounds; ratio is full_ms / follow_ms.
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
    parser.add_argument("--trials", type=int, default=5000, help="trials of the experiment")
    parser.add_argument("--running", type=int, default=16, help="trials reporting meanwhile")
    parser.add_argument("--rounds", type=int, default=20, help="looks timed, each way")
    parser.add_argument("--quick", action="store_true", help="500 trials, 5 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.rounds = 500, 5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "db.sqlite"
        with Store(f"sqlite:///{path}") as store:
            experiment = store.create_experiment("sweep", {}).id
            params = {"lr": 0.001, "optimizer": {"_name": "adam", "beta1": 0.9}, "layers": 4}
            trials = [store.create_trial(experiment, params) for _ in range(args.trials)]
            with sqlite3.connect(path) as raw:  # the run's finished trials: an hour old
                raw.execute("UPDATE trials SET updated_at = datetime(updated_at, '-1 hour')")
            running = [store.update_trial(t.id, state=TrialState.RUNNING)
                       for t in trials[:args.running]]
            follower = Follower(store, store.get_experiment(experiment),
                                store.list_trials(experiment), [])
            full, follow = [], []
            for round_ in range(1, args.rounds + 1):
                for trial in running:
                    point = MetricPoint(trial.id, "loss", 1 / round_, round_, time.time())
                    store.add_output(trial.id, [point], round_ * 100, None)
                full.append(ms(lambda: store.list_trials(experiment)))
                follow.append(ms(follower.poll))
    full_ms, follow_ms = statistics.median(full), statistics.median(follow)
    print(f"{'look':<44} {'median ms':>10} {'max ms':>8}")
    print(f"{'every trial (before)':<44} {full_ms:>10.2f} {max(full):>8.2f}")
    print(f"{'Follower.poll (changed trials, new points)':<44} {follow_ms:>10.2f} "
          f"{max(follow):>8.2f}")
    print(f"RESULT trials={args.trials} running={args.running} full_ms={full_ms:.2f} "
          f"follow_ms={follow_ms:.2f} ratio={full_ms / follow_ms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
