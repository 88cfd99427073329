"""The window's monkey, for minutes: random input on a window that runs real trials.

The short version runs in ``make test`` (``tests/views/test_monkey.py``); this one runs
``--minutes`` per seed for ``--seeds`` seeds (from ``--first-seed``), each on a fresh
window over a fresh database, and prints what each met: exceptions that reached Qt's
event loop and GUI stalls over 200 ms (counted: the GUI thread busy or blocked in our
code; reported only: the machine did not schedule it). Add the seed of any failure to
``REGRESSION_SEEDS`` in the test.

    .venv/bin/python bench/monkey.py [--minutes 3] [--seeds 3] [--first-seed 100]

Ends with ``RESULT seeds=.. actions=.. exceptions=.. stalls=.. stalls_unscheduled=..
longest_stall_ms=.. failed_seeds=..`` (failed_seeds joined by ``+``, ``none`` if none);
exits 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from devtools.monkey import Monkey, Report, busy_window, keep_out_of_the_users_things


def run_seed(seed: int, seconds: float) -> Report:
    """One seed on a fresh window; returns what it met."""
    with tempfile.TemporaryDirectory(prefix="sweeplab-monkey-") as tmp:
        folder = Path(tmp)
        keep_out_of_the_users_things(folder / "home")
        os.chdir(folder)
        with busy_window(folder) as window:
            monkey = Monkey(window, seed)
            loop = QEventLoop()
            monkey.start()
            QTimer.singleShot(int(seconds * 1000), loop.quit)
            loop.exec()
            report = monkey.stop()
            del window
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="per seed (default 3)")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    reports: list[Report] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        started = time.monotonic()
        report = run_seed(seed, args.minutes * 60)
        reports.append(report)
        longest = max((s.seconds for s in report.stalls), default=0.0)
        print(f"seed {seed}: {report.actions} actions in {time.monotonic() - started:.0f} s, "
              f"{len(report.exceptions)} exceptions, {len(report.counted_stalls)} stalls "
              f"({len(report.stalls) - len(report.counted_stalls)} unscheduled only), "
              f"longest {longest * 1000:.0f} ms", flush=True)
        if report.problems():
            print(report.problems(), flush=True)
    failed = [r.seed for r in reports if r.problems()]
    longest_ms = max((s.seconds for r in reports for s in r.stalls), default=0.0) * 1000
    counted = sum(len(r.counted_stalls) for r in reports)
    print(f"RESULT seeds={len(reports)} actions={sum(r.actions for r in reports)} "
          f"exceptions={sum(len(r.exceptions) for r in reports)} stalls={counted} "
          f"stalls_unscheduled={sum(len(r.stalls) for r in reports) - counted} "
          f"longest_stall_ms={longest_ms:.0f} "
          f"failed_seeds={'+'.join(map(str, failed)) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
