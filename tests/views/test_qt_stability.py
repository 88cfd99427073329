"""Guards the Qt pin: PySide6 6.12.0 + pyqtgraph 0.14 aborted in this very loop."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pytestqt.qtbot import QtBot

FRAMES = 600


def test_many_setdata_frames_with_event_processing(qtbot: QtBot) -> None:
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.show()
    curves = [plot.plot(pen=pg.intColor(i)) for i in range(8)]
    for curve in curves:
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
    scatter = pg.ScatterPlotItem(hoverable=True)
    plot.addItem(scatter)
    app = pg.QtWidgets.QApplication.instance()
    assert app is not None
    x = np.arange(2000, dtype=float)
    for frame in range(FRAMES):
        n = 10 + frame * 3
        for i, curve in enumerate(curves):
            curve.setData(x[:n], np.sin(x[:n] / 50 + i) + frame * 1e-3)
        scatter.setData(x[: frame % 50 + 1], np.cos(x[: frame % 50 + 1]))
        app.processEvents()
    assert curves[0].getData()[0] is not None
    assert len(curves[0].getData()[0]) == 10 + (FRAMES - 1) * 3
