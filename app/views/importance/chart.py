"""Parameter importance for the KPI as horizontal bars, most important on top.

The numbers come from :func:`app.application.analysis.importance.parameter_importance`
(scikit-learn's permutation importance over a random forest), computed by an
:class:`~app.views.importance.worker.ImportanceWorker` off the GUI thread.
:meth:`ImportanceChart.refresh` (the Charts panel calls it a few times a second
while the chart is visible) starts a computation when the completed trials
changed, at most once every :data:`RECOMPUTE_MIN_S` seconds and never more than
:data:`BUSY_SHARE` of the time (trials need the CPU more); a note under the
chart says what the bars mean and how far to trust them.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.application.analysis.importance import (
    MIN_TRIALS,
    ImportanceResult,
    NotEnoughTrials,
    usable_trials,
)
from app.views.charts.data import ChartData
from app.views.charts.style import make_plot, text_color
from app.views.importance.worker import Compute, ImportanceWorker

RECOMPUTE_MIN_S = 5.0
BUSY_SHARE = 0.2  # while trials stream in, compute at most this share of the time
BAR_BRUSH = (31, 119, 180, 200)
LOW_FIT_R2 = 0.2  # below this out-of-bag R², the note warns that the ranking is weak
BAR_HEIGHT = 0.6


class ImportanceChart(QWidget):
    """Bars of permutation importance per parameter, from the completed trials of ``data``.

    Ignores the top-K filter: importance learnt from the best few trials alone would
    say little about the space. GUI thread only.

    Attributes:
        result: the last result drawn (None before the first, or after a refusal).
        worker: the worker that computes it (its ``finished`` and ``failed`` signals
            tell tests and callers when a computation ended).
    """

    def __init__(self, data: ChartData, parent: QWidget | None = None,
                 compute: Compute | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.worker = ImportanceWorker(self) if compute is None else ImportanceWorker(
            self, compute)
        self.worker.finished.connect(self._show_result)
        self.worker.failed.connect(self._show_refusal)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.plot_widget = make_plot(self)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.showGrid(x=True, y=False, alpha=0.15)
        self.plot_item.hideButtons()
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_HEIGHT,
                                    brush=pg.mkBrush(*BAR_BRUSH), pen=None)
        self.errors = pg.ErrorBarItem(x=np.empty(0), y=np.empty(0), beam=0.2,
                                      pen=pg.mkPen(text_color()))
        self.plot_item.addItem(self.bars)
        self.plot_item.addItem(self.errors)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.note)
        self.result: ImportanceResult | None = None
        self._seen = (-1, -1)
        self._wanted: tuple[object, ...] | None = None  # trials key of the data now
        self._started_key: tuple[object, ...] | None = None  # of the computation running/done
        self._started_at = -RECOMPUTE_MIN_S
        self._last_duration = 0.0
        self._show_waiting()

    # -- driving ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Start a computation when the completed trials changed (cheap otherwise)."""
        data = self._data
        seen = (data.kpi_version, data.trials_version)
        if seen != self._seen:
            self._seen = seen
            usable = usable_trials(list(data.trials.values()))
            self._wanted = (data.kpi_name, tuple((t.id, t.kpi) for t in usable))
        self._maybe_start()

    def recompute(self) -> bool:
        """Compute now, whatever changed (False while a computation runs)."""
        self._seen = (-1, -1)
        self._started_key = None
        self._started_at = -RECOMPUTE_MIN_S
        self.refresh()
        return self.worker.busy

    def _maybe_start(self) -> None:
        if self._wanted is None or self._wanted == self._started_key or self.worker.busy:
            return
        trials = list(self._data.trials.values())
        kpi_name = self._data.kpi_name or "KPI"
        have = len(usable_trials(trials))
        if have < MIN_TRIALS:  # at once (another experiment shown): no thread needed
            self._started_key = self._wanted
            self._show_refusal(str(NotEnoughTrials(MIN_TRIALS, have, kpi_name)))
            return
        pause = max(RECOMPUTE_MIN_S, self._last_duration / BUSY_SHARE)
        if time.monotonic() - self._started_at < pause and self.result is not None:
            self._show_behind(have)  # trials stream in: recompute a while later
            return
        self._started_key = self._wanted
        self._started_at = time.monotonic()
        self.worker.start(trials, kpi_name)
        self.status.setText(f"Computing the importance of each parameter for {kpi_name} "
                            f"from {have} completed trials…")

    # -- drawing ---------------------------------------------------------------------------

    def bar_values(self) -> list[tuple[str, float]]:
        """The (parameter, importance) pairs drawn, top bar first."""
        if self.result is None:
            return []
        return [(p.name, p.mean) for p in self.result.params]

    def _show_waiting(self) -> None:
        self.status.setText("Parameter importance appears once enough trials have completed.")
        self.note.setText("")

    def _clear_bars(self) -> None:
        self._draw_bars(np.empty(0), np.empty(0), np.empty(0))
        self.plot_item.getAxis("left").setTicks([[]])

    def _draw_bars(self, y: np.ndarray, means: np.ndarray, stds: np.ndarray) -> None:
        """Bars and whiskers from arrays of one length, every array given each time.

        pyqtgraph's ``setOpts``/``setData`` keep any option not passed: whiskers given new
        ``x``/``y`` but not ``left``/``right`` would pair them with the old arrays, and a
        paint with mismatched lengths raises inside ``boundingRect``, which aborts the
        process (shiboken cannot return from it).
        """
        self.bars.setOpts(x0=np.zeros(len(y)), y=y, width=means, height=BAR_HEIGHT)
        self.errors.setData(x=means, y=y, left=np.minimum(stds, means), right=stds,
                            top=None, bottom=None, height=None, width=None, beam=0.2)

    def _show_refusal(self, message: str) -> None:
        self._last_duration = time.monotonic() - self._started_at
        self.result = None
        self._clear_bars()
        self.status.setText(message)
        self.note.setText("")
        self._maybe_start()  # the trials may have changed while it ran

    def _show_behind(self, have: int) -> None:
        """The bars are of fewer trials than have completed now: say both counts."""
        result = self.result
        if result is None or result.trials_used == have:
            return
        self.status.setText(f"Importance of each parameter for {result.kpi_name}, from "
                            f"{result.trials_used} completed trials; {have} have completed "
                            f"now: recomputing shortly…")

    def _show_result(self, result: ImportanceResult) -> None:
        self._last_duration = time.monotonic() - self._started_at
        self.result = result
        count = len(result.params)
        y = np.arange(count - 1, -1, -1, dtype=float)  # the most important on top
        means = np.array([max(p.mean, 0.0) for p in result.params])
        stds = np.array([p.std for p in result.params])
        self._draw_bars(y, means, stds)
        self.plot_item.getAxis("left").setTicks([[(float(y[i]), p.name)
                                                  for i, p in enumerate(result.params)]])
        self.plot_item.setLabel("bottom", f"share of {result.kpi_name}'s variance lost "
                                f"when shuffled")
        self.plot_item.setYRange(-0.6, max(count - 1, 0) + 0.6, padding=0)
        self.plot_item.setXRange(0.0, max(float((means + stds).max()) if count else 0.0,
                                          1e-3) * 1.05, padding=0)
        self.status.setText(f"Importance of each parameter for {result.kpi_name}, from "
                            f"{result.trials_used} completed trials.")
        self.note.setText(importance_note(result))
        self._maybe_start()


def importance_note(result: ImportanceResult) -> str:
    """What the bars mean, and how far to trust them (rich text)."""
    kpi = result.kpi_name
    text = (
        f"<small>Each bar is the <b>permutation importance</b> of a parameter: how much a "
        f"random forest's error in predicting {kpi} grows when that parameter's values "
        f"are shuffled, as a share of {kpi}'s variance, measured on trials the forest did "
        f"not learn from ({result.folds}-fold over {result.trials_used} completed trials; "
        f"scikit-learn; the whisker is ± one standard deviation over "
        f"{result.folds * result.n_repeats} shuffles). A longer bar means {kpi} depends "
        f"more on the parameter; near zero means the forest does not use it. It shows "
        f"association, not cause, and parameters that always vary together share the "
        f"credit. Held-out R² of the forest: {result.heldout_r2:.2f}")
    if result.heldout_r2 < LOW_FIT_R2:
        text += (" — the parameters explain little of the KPI so far (noise, or too few "
                 "trials): take the ranking with care")
    return text + ".</small>"
