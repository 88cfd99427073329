"""Sorting and filtering the Trials table: milliseconds per click on a column header.

Offscreen, a shown :class:`TrialTable` gets ``--trials`` made-up trials (nested
params: 8 parameter columns, some only in one optimizer branch); then each
measured column is sorted ascending and descending ``--repeats`` times through
``QTableView.sortByColumn`` (what a header click does: numpy argsort in the model,
persistent indexes moved, ``layoutChanged`` handled by the view), and the text and
state filters are applied. With ``--proxy`` the same sorts also go through a
``QSortFilterProxyModel`` over the model, the approach this replaces.

    .venv/bin/python bench/gui_sort.py [--trials 10000] [--repeats 5] [--proxy] [--quick]

Ends with one line ``RESULT sort_ms_<N>=.. sort_median_ms_<N>=.. model_sort_ms_<N>=..
filter_ms_<N>=.. load_ms_<N>=..``: sort_ms is the slowest column's median time from the
click until the table is repainted; model_sort_ms the same without the repaint (argsort
and layout change only). The goal is <= 200 ms for 10,000 trials.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QApplication, QTableView

from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.legend import TrialGridView
from app.views.trials.rows import Column
from app.views.trials.table import TrialTable
from devtools.synthetic import KPI, synthetic_run

COLUMNS = ("#", KPI, "duration", "state", "host", "started", "lr", "optimizer",
           "optimizer.beta1")
ORDERS = (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder)


def timed(action: object) -> float:
    """Milliseconds one call of ``action`` took, events it posted included."""
    started = time.perf_counter()
    action()  # type: ignore[operator]
    QApplication.processEvents()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="trials in the table")
    parser.add_argument("--repeats", type=int, default=5, help="sorts per column and order")
    parser.add_argument("--proxy", action="store_true",
                        help="also time a QSortFilterProxyModel (slow: minutes at 10,000)")
    parser.add_argument("--grid", type=int, default=5_000,
                        help="tiles in the grid view, repainted in full once")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 trials, 2 repeats, 1,000 tiles")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.repeats, args.grid = 1_000, 2, 1_000
    if args.trials < 1 or args.repeats < 1:
        parser.error(f"--trials ({args.trials}) and --repeats ({args.repeats}) must be >= 1")
    app = QApplication.instance() or QApplication([])
    run = synthetic_run(trials=args.trials, max_steps=20, running=min(32, args.trials),
                        seed=11)
    table = TrialTable()
    table.resize(1200, 700)
    table.show()
    load_ms = timed(lambda: table.set_trials(run.trials, KPI))
    headers = table.model.header_names()
    print(f"{args.trials} trials, {len(headers)} columns; load {load_ms:.0f} ms")
    print(f"{'column':<18}{'asc ms':>9}{'desc ms':>9}{'model asc':>11}{'model desc':>12}")
    medians: dict[str, float] = {}
    model_medians: dict[str, float] = {}
    for name in COLUMNS:
        column = headers.index(name)
        per_order, in_model = [], []
        for order in ORDERS:
            samples, model_samples = [], []
            for _ in range(args.repeats):
                samples.append(timed(lambda c=column, o=order: table.view.sortByColumn(c, o)))
                model_samples.append(table.model.last_sort_ms)
            per_order.append(statistics.median(samples))
            in_model.append(statistics.median(model_samples))
        medians[name], model_medians[name] = max(per_order), max(in_model)
        print(f"{name:<18}{per_order[0]:>9.1f}{per_order[1]:>9.1f}"
              f"{in_model[0]:>11.1f}{in_model[1]:>12.1f}")
    filters = [
        timed(lambda: table.filter_bar.text.setText("adam")),
        timed(lambda: table.filter_bar.text.setText("gpu-box")),
        timed(lambda: table.filter_bar.boxes[TrialState.COMPLETED].setChecked(False)),
        timed(lambda: table.filter_bar.set_states(None)),
        timed(lambda: table.filter_bar.text.clear()),
    ]
    filter_ms = max(filters)
    print(f"filter (text, state; slowest of {len(filters)}): {filter_ms:.1f} ms")
    if args.proxy:
        proxy_sort(table, args.trials)
    grid_ms = grid_paint(args.grid)
    print(f"grid of {args.grid} tiles: one full repaint {grid_ms:.1f} ms")
    worst = max(medians.values())
    n = args.trials
    print(f"RESULT sort_ms_{n}={worst:.1f} sort_median_ms_{n}="
          f"{statistics.median(medians.values()):.1f} model_sort_ms_{n}="
          f"{max(model_medians.values()):.1f} filter_ms_{n}={filter_ms:.1f} "
          f"load_ms_{n}={load_ms:.0f} grid_paint_ms_{args.grid}={grid_ms:.1f}")
    table.close()
    del app
    return 0


def grid_paint(tiles: int) -> float:
    """Milliseconds of one full repaint (``grab``) of the trials grid with ``tiles`` trials,
    32 of them running, in a 1000 x 600 view (only the visible tiles are painted)."""
    view = TrialGridView()
    view.resize(1000, 600)
    run = synthetic_run(trials=tiles, max_steps=20, running=min(32, tiles), seed=1)
    view.set_trials(run.trials, KPI, Goal.MIN, total_steps=20)
    view.show()
    QApplication.processEvents()
    started = time.perf_counter()
    image = view.grab()
    ms = (time.perf_counter() - started) * 1000
    if image.isNull():
        raise SystemExit("the grid painted nothing")
    view.close()
    return ms


def proxy_sort(table: TrialTable, trials: int) -> None:
    """The approach replaced: a QSortFilterProxyModel sorting the model's display text."""
    table.model.sort(-1)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(table.model)
    view = QTableView()
    view.setModel(proxy)
    view.resize(1200, 700)
    view.show()
    ms = timed(lambda: view.sortByColumn(Column.KPI, Qt.SortOrder.AscendingOrder))
    print(f"QSortFilterProxyModel, {trials} trials, sort by {KPI}: {ms:.0f} ms")
    view.close()


if __name__ == "__main__":
    raise SystemExit(main())
