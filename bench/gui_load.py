"""GUI smoothness under load: the Charts tab with a big history and live trials streaming.

Offscreen, a window holding the ChartsPanel gets ``--trials`` trials x ``--points``
KPI points (made-up trials, none pruned, so every finished one has all its
points; ``gc.freeze()`` after loading); then
``--running`` trials stream ``--rate`` points per second each from a worker thread
through a queued Qt signal; a trial that reaches ``--points`` steps completes and a
new one starts in its place. Measured on the GUI thread:

- stall: the gaps between the ticks of a 10 ms PreciseTimer (p99 and longest);
- frame: the panel's ``refresh()`` plus the paint of the KPI chart that follows it.

The same stall figures are first taken for the idle window (same data, nothing
streaming) in the same run, as this machine's floor.

    .venv/bin/python bench/gui_load.py [--seconds 10] [--quick]

Ends with one line ``RESULT p99_stall_ms=.. max_stall_ms=.. frame_ms=.. idle_p99_stall_ms=..
idle_max_stall_ms=.. ...``; frame_ms is the median frame, frame_p99_ms and frame_max_ms follow.
Goals: p99 stall <= 20 ms, longest <= 50 ms, frame <= 16 ms.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.views.charts.panel import ChartsPanel
from devtools.synthetic import KPI, SyntheticRun, synthetic_run

TICK_MS = 10
REFRESH_MS = 125


class Feed(QObject):
    """Lives in the GUI thread; the worker emits ``arrived`` (delivered queued)."""

    arrived = Signal(object, object)  # list[MetricPoint], list[TrialRecord]


class Streamer(threading.Thread):
    """Every 1/rate s, one new point for each running trial; finished trials are replaced."""

    def __init__(self, run: SyntheticRun, feed: Feed, rate: float, steps: int) -> None:
        super().__init__(daemon=True)
        self.run_data = run
        self.feed = feed
        self.period = 1.0 / rate
        self.steps = steps
        self.stop = threading.Event()
        self.progress = {t: len(run.points[t][0]) for t in run.running}
        # Whole curves made up front: the worker's own Python work stays small (GIL).
        self.curves = {t: run.more(t, 0, steps)[1].tolist() for t in run.running}
        self.next_id = max(t.id for t in run.trials) + 1
        self.next_number = max(t.number for t in run.trials) + 1
        self.points_sent = 0
        self.finished = 0

    def run(self) -> None:
        due = time.perf_counter()
        while not self.stop.is_set():
            points: list[MetricPoint] = []
            records: list[TrialRecord] = []
            now = time.time()
            for trial_id, step in list(self.progress.items()):
                value = self.curves[trial_id][step]
                points.append(MetricPoint(trial_id, KPI, value, step, now))
                self.progress[trial_id] = step + 1
                if step + 1 >= self.steps:
                    records += self._replace(trial_id)
            self.points_sent += len(points)
            self.feed.arrived.emit(points, records)
            due += self.period
            self.stop.wait(max(0.0, due - time.perf_counter()))

    def _replace(self, trial_id: int) -> list[TrialRecord]:
        del self.progress[trial_id]
        done = self.run_data.finish(trial_id, self.steps)
        fresh = self.run_data.restart(trial_id, self.next_id, self.next_number)
        new_id = fresh.id
        self.next_id += 1
        self.next_number += 1
        self.progress[new_id] = 0
        self.curves[new_id] = self.curves.pop(trial_id)
        self.finished += 1
        return [done, fresh]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def run_loop(app: QApplication, seconds: float) -> list[float]:
    """Run the event loop for ``seconds``; return the times of the 10 ms ticks."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    return ticks


def gaps_ms(ticks: list[float]) -> list[float]:
    """The gaps between successive ticks, in ms."""
    return [1000 * (b - a) for a, b in itertools.pairwise(ticks)]


def worst_gaps(ticks: list[float], refreshes: list[tuple[float, float]],
               paints: list[tuple[float, float]], count: int) -> list[str]:
    """The ``count`` longest gaps, each with the refreshes and paints that fell in it."""
    lines = []
    for a, b in sorted(itertools.pairwise(ticks), key=lambda g: g[0] - g[1])[:count]:
        inside_r = [f"{1000 * d:.1f}" for start, d in refreshes if a <= start <= b]
        inside_p = [f"{1000 * d:.1f}" for end, d in paints if a <= end <= b]
        lines.append(f"  gap {1000 * (b - a):5.1f} ms: refresh {', '.join(inside_r) or '-'} ms, "
                     f"paint {', '.join(inside_p) or '-'} ms")
    return lines


def timed_paints() -> dict[pg.GraphicsView, list[tuple[float, float]]]:
    """Record (end time, duration) of every paint of every plot view made from now on."""
    record: dict[pg.GraphicsView, list[tuple[float, float]]] = {}
    original: Callable[..., None] = pg.GraphicsView.paintEvent

    def paint(self: pg.GraphicsView, event: object) -> None:
        start = time.perf_counter()
        original(self, event)
        end = time.perf_counter()
        record.setdefault(self, []).append((end, end - start))

    pg.GraphicsView.paintEvent = paint  # type: ignore[method-assign]
    return record


def frames(refreshes: list[tuple[float, float]], paints: list[tuple[float, float]]) -> list[float]:
    """Each refresh plus the paints that followed it before the next refresh (ms)."""
    out = []
    starts = [start for start, _ in refreshes] + [float("inf")]
    for i, (start, duration) in enumerate(refreshes):
        painted = sum(d for end, d in paints if start < end <= starts[i + 1])
        out.append(1000 * (duration + painted))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="streaming phase length")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--points", type=int, default=300, help="KPI points per trial")
    parser.add_argument("--running", type=int, default=32)
    parser.add_argument("--rate", type=float, default=20.0, help="points per second per trial")
    parser.add_argument("--quick", action="store_true", help="2 s smoke run, 500 trials")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.trials = 2.0, 500
    app = QApplication.instance() or QApplication(sys.argv[:1])

    start = time.perf_counter()
    # No pruning: every finished trial has all its points, the heaviest history.
    run = synthetic_run(trials=args.trials, max_steps=args.points, running=args.running, seed=7,
                        prune=False, failed_every=0)
    points = run.metric_points()
    loaded_points = len(points)
    made_s = time.perf_counter() - start
    paints = timed_paints()
    panel = ChartsPanel(auto_refresh=False)
    panel.resize(1280, 720)
    view = panel.curves.plot_widget
    start = time.perf_counter()
    panel.set_experiment(KPI, Goal.MIN)
    panel.set_trials(run.trials)
    panel.add_points(points)
    del points
    load_s = time.perf_counter() - start
    gc.collect()
    gc.freeze()

    panel.show()
    start = time.perf_counter()
    panel.refresh()
    while not paints.get(view) and time.perf_counter() - start < 30:
        app.processEvents()
    first_frame_s = time.perf_counter() - start
    run_loop(app, 1.0)  # let the view settle (auto-range, the detailed repaint)

    refreshes: list[tuple[float, float]] = []

    def refresh() -> None:
        begin = time.perf_counter()
        panel.refresh()
        refreshes.append((begin, time.perf_counter() - begin))

    refresher = QTimer()
    refresher.setInterval(REFRESH_MS)
    refresher.timeout.connect(refresh)
    refresher.start()

    idle = gaps_ms(run_loop(app, max(1.0, args.seconds / 4)))
    refreshes.clear()
    paints.clear()
    renders = panel.curves.finished_item.full_renders

    feed = Feed()

    def arrived(new_points: list[MetricPoint], records: list[TrialRecord]) -> None:
        for record in records:
            panel.update_trial(record)
        panel.add_points(new_points)

    feed.arrived.connect(arrived)
    streamer = Streamer(run, feed, args.rate, args.points)
    streamer.start()
    busy_ticks = run_loop(app, args.seconds)
    busy = gaps_ms(busy_ticks)
    streamer.stop.set()
    streamer.join()
    refresher.stop()
    view_paints = paints.get(view, [])
    frame = frames(refreshes, view_paints)
    print(f"history: {args.trials} trials x {args.points} points ({loaded_points} points), "
          f"made in {made_s:.2f} s, loaded in {load_s:.2f} s; "
          f"first frame {first_frame_s * 1000:.0f} ms")
    print(f"streaming: {args.running} trials x {args.rate:g} points/s for {args.seconds:g} s: "
          f"{streamer.points_sent} points, {streamer.finished} trials finished")
    print(f"{'':8} {'ticks':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, gaps in (("idle", idle), ("loaded", busy)):
        print(f"{name:8} {len(gaps):6d} {percentile(gaps, 50):8.1f} {percentile(gaps, 99):8.1f} "
              f"{max(gaps, default=0):8.1f}")
    print(f"frames: {len(frame)}, median {percentile(frame, 50):.1f} ms, "
          f"p99 {percentile(frame, 99):.1f} ms, max {max(frame, default=0):.1f} ms "
          f"(full repaints of the finished layer: "
          f"{panel.curves.finished_item.full_renders - renders})")
    print(f"refresh median {percentile([1000 * d for _, d in refreshes], 50):.1f} ms, "
          f"paint median {percentile([1000 * d for _, d in view_paints], 50):.1f} ms; "
          f"longest gaps while streaming:")
    print("\n".join(worst_gaps(busy_ticks, refreshes, view_paints, 5)))
    print(f"RESULT p99_stall_ms={percentile(busy, 99):.1f} max_stall_ms={max(busy, default=0):.1f} "
          f"frame_ms={percentile(frame, 50):.1f} idle_p99_stall_ms={percentile(idle, 99):.1f} "
          f"idle_max_stall_ms={max(idle, default=0):.1f} frame_p99_ms={percentile(frame, 99):.1f} "
          f"frame_max_ms={max(frame, default=0):.1f} load_s={load_s:.2f}")
    panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
