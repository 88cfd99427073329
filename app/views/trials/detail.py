"""A trial's detail: every metric as a curve, the live log, params as JSON, the command.

Each metric gets a small plot of its own, stacked, with its name on its own value
axis (loss and accuracy differ in scale and unit: one shared axis flattened one of
them); the plots share the step axis, so zooming one moves them all.

It gets everything through its constructor and setters (no database access); the
main window feeds it live points and log text and acts on its two requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.application.live import STOPPING
from app.engine.records import MetricPoint, TrialRecord
from app.engine.schedulers import SchedulerConfig
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.log_view import LogView
from app.views.trials.rerun_dialog import RerunDialog
from app.views.trials.text import (
    duration_seconds,
    format_duration,
    format_gpus,
    format_time,
    format_value,
    params_json,
)

REFRESH_MS = 200
TICK_MS = 1000
"""How often a running trial's duration is redrawn."""
AXIS_COLOUR = "#424242"
CURVE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#7f7f7f", "#bcbd22")
LEFT_AXIS_PX = 70
MIN_PLOT_PX = 130  # below this the plots scroll rather than shrink
SYMBOLS_BELOW = 3  # curves this short get point symbols, or one point would not show


class TrialDetail(QDialog):
    """Curves, log, params and command of one trial, with Stop and Re-run.

    Signals:
        stopRequested(int trial_id): "Stop this trial" was pressed.
        rerunRequested(int trial_id, EarlyStopping early_stopping): "Re-run with these
            params" was confirmed in its dialog, exempt from early stopping or not.
    """

    stopRequested = Signal(int)
    rerunRequested = Signal(int, object)

    def __init__(self, record: TrialRecord, metrics: Sequence[MetricPoint] = (),
                 log_text: str = "", command: str = "", kpi_name: str = "KPI",
                 goal: Goal = Goal.MIN, parent: QWidget | None = None, *,
                 scheduler: SchedulerConfig | None = None) -> None:
        super().__init__(parent)
        self.resize(900, 640)
        self._record = record
        self._scheduler = scheduler
        self.rerun_dialog: RerunDialog | None = None
        self._kpi_name, self._goal = kpi_name, goal
        self._points: dict[str, list[tuple[float, float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.command = QLineEdit(readOnly=True)
        copy_command = QPushButton("Copy")
        copy_command.clicked.connect(self.copy_command)
        command_row = QHBoxLayout()
        command_row.addWidget(QLabel("Command:"))
        command_row.addWidget(self.command, 1)
        command_row.addWidget(copy_command)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.metrics_page = QScrollArea()
        self.metrics_page.setWidgetResizable(True)
        self.metrics_page.setWidget(self.plots)
        self._plots: dict[str, pg.PlotItem] = {}
        self.log = LogView(protocol_toggle=True)
        self.params = QPlainTextEdit(readOnly=True)
        copy_params = QPushButton("Copy JSON")
        copy_params.clicked.connect(self.copy_params)
        params_page = QWidget()
        params_layout = QVBoxLayout(params_page)
        params_layout.addWidget(self.params, 1)
        params_layout.addWidget(copy_params, 0, Qt.AlignmentFlag.AlignRight)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.metrics_page, "Metrics")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(params_page, "Params")
        self.stop_button = QPushButton("Stop this trial")
        self.rerun_button = QPushButton("Re-run with these params")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.rerun_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(command_row)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.stop_button.clicked.connect(lambda: self.stopRequested.emit(self._record.id))
        self.rerun_button.clicked.connect(self.ask_rerun)
        close.clicked.connect(self.close)
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self.refresh_curves)
        self._stopping = False
        self._tick = QTimer(self)  # a running trial's duration goes on
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._show_summary)
        self.set_record(record)
        self.set_metrics(metrics)
        self.log.set_text(log_text)
        self.set_command(command)

    # --- data ---------------------------------------------------------------------------

    @property
    def trial_id(self) -> int:
        """The trial shown."""
        return self._record.id

    def set_record(self, record: TrialRecord) -> None:
        """Show a newer record of the same trial (state, KPI, end time).

        Raises:
            ValueError: when the record is of another trial.
        """
        if record.id != self._record.id:
            raise ValueError(f"this detail shows trial {self._record.id}, not {record.id}")
        self._record = record
        if record.state.is_finished():
            self._stopping = False
        self.params.setPlainText(params_json(record.params))
        self._show_state()
        if record.state is TrialState.RUNNING:
            self._tick.start()
        else:
            self._tick.stop()

    def set_stopping(self, stopping: bool) -> None:
        """A stop of the trial was asked for (True) and it has not ended yet: the state
        reads "stopping…" and the Stop button is off until the trial's end arrives."""
        self._stopping = stopping and not self._record.state.is_finished()
        self._show_state()

    def state_text(self) -> str:
        """The trial's state as shown: ``stopping…`` from the request to its end."""
        return STOPPING if self._stopping else self._record.state.value

    def _show_state(self) -> None:
        record = self._record
        self.setWindowTitle(f"Trial {record.number} — {self.state_text()}")
        self.stop_button.setEnabled(not record.state.is_finished() and not self._stopping)
        self.stop_button.setText(STOPPING.capitalize() if self._stopping else "Stop this trial")
        self._show_summary()

    def ask_rerun(self) -> RerunDialog:
        """Open the re-run dialog (window-modal); accepted, it emits ``rerunRequested``."""
        dialog = RerunDialog(self._record, self._scheduler, self)
        trial_id = self._record.id
        dialog.accepted.connect(lambda: self.rerunRequested.emit(trial_id, dialog.choice()))
        dialog.finished.connect(self._rerun_dialog_closed)
        self.rerun_dialog = dialog
        dialog.open()
        return dialog

    def _rerun_dialog_closed(self) -> None:
        if self.rerun_dialog is not None:
            self.rerun_dialog.deleteLater()
            self.rerun_dialog = None

    def set_command(self, command: str) -> None:
        """The exact command line the trial ran."""
        self.command.setText(command)
        self.command.setCursorPosition(0)

    def set_log(self, text: str) -> None:
        """Replace the log (e.g. the tail of ``output.log``)."""
        self.log.set_text(text)

    def append_log(self, text: str) -> None:
        """Append live log output."""
        self.log.append_log(text)

    def set_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Replace every curve with these points (other trials' points are ignored)."""
        self._points.clear()
        self._add(points)
        self.refresh_curves()

    def add_points(self, points: Iterable[MetricPoint]) -> None:
        """Live points; curves are redrawn at most every :data:`REFRESH_MS` ms."""
        if self._add(points) and not self._refresh.isActive():
            self._refresh.start()

    def _add(self, points: Iterable[MetricPoint]) -> bool:
        added = False
        for point in points:
            if point.trial_id != self._record.id:
                continue
            series = self._points.setdefault(point.name, [])
            step = float(point.step) if point.step is not None else float(len(series))
            series.append((step, point.value))
            added = True
        return added

    def curve_names(self) -> list[str]:
        """The metrics drawn, in the order they first appeared."""
        return list(self._curves)

    def metric_plot(self, name: str) -> pg.PlotItem:
        """The plot of one metric (its own value axis, labelled with its name).

        Raises:
            KeyError: when no metric has that name.
        """
        return self._plots[name]

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A drawn curve's x (step) and y arrays.

        Raises:
            KeyError: when no curve has that name.
        """
        x, y = self._curves[name].getData()
        return (np.empty(0) if x is None else np.asarray(x),
                np.empty(0) if y is None else np.asarray(y))

    def params_text(self) -> str:
        """The params as shown (pretty JSON)."""
        return self.params.toPlainText()

    def copy_params(self) -> None:
        """Put the params JSON on the clipboard."""
        QGuiApplication.clipboard().setText(self.params_text())

    def copy_command(self) -> None:
        """Put the command line on the clipboard."""
        QGuiApplication.clipboard().setText(self.command.text())

    # --- drawing ------------------------------------------------------------------------

    def refresh_curves(self) -> None:
        """Draw the buffered points now, one curve per metric name."""
        self._refresh.stop()
        if list(self._plots) != list(self._points):
            self._lay_out_plots()
        for name, series in self._points.items():
            data = np.array(sorted(series), dtype=np.float64).reshape(-1, 2)
            curve = self._curves[name]
            symbol = "o" if len(data) < SYMBOLS_BELOW else None
            curve.setSymbol(symbol)
            curve.setSymbolBrush(curve.opts["pen"].color())
            curve.setData(data[:, 0], data[:, 1])
        self._show_summary()

    def _lay_out_plots(self) -> None:
        """One plot per metric, stacked in order of appearance, sharing the step axis."""
        self.plots.clear()
        self._plots.clear()
        self._curves.clear()
        first: pg.PlotItem | None = None
        names = list(self._points)
        for position, name in enumerate(names):
            colour = CURVE_COLOURS[position % len(CURVE_COLOURS)]
            plot = self.plots.addPlot(row=position, col=0)
            plot.showGrid(x=True, y=True, alpha=0.3)
            for side in ("left", "bottom"):
                plot.getAxis(side).setPen(pg.mkPen(AXIS_COLOUR))
                plot.getAxis(side).setTextPen(pg.mkPen(AXIS_COLOUR))
            plot.getAxis("left").setWidth(LEFT_AXIS_PX)  # the plots' edges line up
            plot.getAxis("left").enableAutoSIPrefix(False)  # 0.93, not 930 (x0.001)
            label = f"{name} (KPI)" if name == self._kpi_name else name
            plot.setLabel("left", label, color=colour)
            if position == len(names) - 1:
                plot.setLabel("bottom", "step")
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            curve = plot.plot(name=name, pen=pg.mkPen(colour, width=2))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self._plots[name] = plot
            self._curves[name] = curve
        self.plots.setMinimumHeight(MIN_PLOT_PX * len(names))

    def _show_summary(self) -> None:
        record = self._record
        current, best = self._kpi_values()
        current = record.kpi if current is None else current
        self.summary.setText(
            f"<b>Trial {record.number}</b> — {self.state_text()} &nbsp;·&nbsp; "
            f"host {record.host or '—'}, GPU {format_gpus(record.gpus)} &nbsp;·&nbsp; "
            f"started {format_time(record.started_at)}, "
            f"{format_duration(duration_seconds(record))} &nbsp;·&nbsp; "
            f"{self._kpi_name} {format_value(current)} (best {format_value(best)})"
            + (f"<br><span style='color:#c62828'>{_escape(record.error.strip())}</span>"
               if record.error else ""))

    def _kpi_values(self) -> tuple[float | None, float | None]:
        series = sorted(self._points.get(self._kpi_name, []))
        finite = [v for _, v in series if math.isfinite(v)]
        if not finite:
            return (series[-1][1] if series else None), None
        best = min(finite) if self._goal is Goal.MIN else max(finite)
        return series[-1][1], best


def _escape(text: str) -> str:
    lines = text.splitlines()[-3:]
    return "<br>".join(line.replace("&", "&amp;").replace("<", "&lt;") for line in lines)
