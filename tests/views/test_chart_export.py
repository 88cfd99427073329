"""Charts to PNG and SVG (pyqtgraph's exporters) and the right-click "Export PNG/SVG…" menu."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtGui import QColor, QContextMenuEvent, QImage
from PySide6.QtWidgets import QApplication, QLabel, QMenu
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.export import ChartExportMenu, export_plot
from app.views.charts.panel import ChartsPanel

T0 = datetime(2024, 1, 1, tzinfo=UTC)
RED = (220, 20, 20)


@pytest.fixture
def plot(qtbot: QtBot) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.plot([0, 1, 2, 3], [0, 3, 1, 2], pen=pg.mkPen(RED, width=3))
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def red_pixels(image: QImage) -> int:
    count = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            colour = QColor(image.pixel(x, y))
            count += colour.red() > 180 and colour.green() < 90 and colour.blue() < 90
    return count


def test_png_and_svg_by_suffix(plot: pg.PlotWidget, tmp_path: Path) -> None:
    png = export_plot(plot, tmp_path / "curve.PNG")
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 300
    assert red_pixels(image) > 20  # the curve is in the picture
    wide = QImage(str(export_plot(plot, tmp_path / "wide.png", width=1200)))
    assert wide.width() == 1200
    svg = export_plot(plot.getPlotItem(), tmp_path / "curve.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 0


def test_bad_targets_and_paths_are_refused_clearly(plot: pg.PlotWidget, tmp_path: Path,
                                                   qtbot: QtBot) -> None:
    with pytest.raises(ValueError, match=r"cannot export a chart to 'chart\.jpg': the name "
                       r"must end in \.png or \.svg"):
        export_plot(plot, tmp_path / "chart.jpg")
    with pytest.raises(OSError, match=r"folder .*missing does not exist"):
        export_plot(plot, tmp_path / "missing" / "chart.png")
    with pytest.raises(ValueError, match="PNG width must be at least 1 pixel, got 0"):
        export_plot(plot, tmp_path / "chart.png", width=0)
    label = QLabel("not a chart")
    qtbot.addWidget(label)
    with pytest.raises(TypeError, match="cannot export a QLabel"):
        export_plot(label, tmp_path / "chart.png")


def test_right_click_menu_exports_where_the_user_says(plot: pg.PlotWidget, tmp_path: Path,
                                                      qtbot: QtBot) -> None:
    menu = ChartExportMenu(plot, "my-chart")
    asked: list[tuple[str, str]] = []

    def ask(suffix: str, suggested: str) -> Path | None:
        asked.append((suffix, suggested))
        return tmp_path / "picked"  # no suffix typed: it is added

    menu.ask_path = ask
    seen: list[list[str]] = []

    def pick_svg() -> None:  # runs inside the menu's own event loop
        popup = QApplication.activePopupWidget()
        assert isinstance(popup, QMenu)
        seen.append([a.text() for a in popup.actions()])
        popup.actions()[1].trigger()
        popup.close()

    QTimer.singleShot(100, pick_svg)
    with qtbot.waitSignal(menu.exported, timeout=5000) as blocker:
        QApplication.sendEvent(plot.viewport(), QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, QPoint(50, 50), plot.viewport().mapToGlobal(
                QPoint(50, 50))))
    assert seen == [["Export PNG…", "Export SVG…"]]
    assert asked == [(".svg", "my-chart.svg")]
    assert blocker.args == [str(tmp_path / "picked.svg")]
    assert ET.parse(tmp_path / "picked.svg").getroot().tag.endswith("svg")
    menu.ask_path = lambda _suffix, _name: None  # cancelled: nothing written
    assert menu.export(".png") is None
    with pytest.raises(ValueError, match=r"no chart export to '\.gif'"):
        menu.export(".gif")


def test_every_chart_of_the_panel_exports(qtbot: QtBot, tmp_path: Path) -> None:
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials([TrialRecord(id=100 + n, experiment_id=1, number=n,
                                  state=TrialState.COMPLETED, params={"lr": 0.1 * (n + 1)},
                                  created_at=T0, started_at=T0, ended_at=T0, kpi=1.0 / (n + 1))
                      for n in range(4)])
    panel.add_points([MetricPoint(100 + n, "loss", 1.0 / (s + n + 1), s, 0.0)
                      for n in range(4) for s in range(5)])
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh_all()
    names = [menu.name for menu in panel.export_menus]
    assert names == ["kpi-curves", "best-so-far-by-trial", "best-so-far-by-time",
                     "parallel-coordinates", "kpi-vs-parameter", "parameter-importance"]
    for menu in panel.export_menus:
        menu.ask_path = lambda suffix, suggested: tmp_path / suggested
        assert menu.export(".png") == tmp_path / f"{menu.name}.png"
        assert not QImage(str(tmp_path / f"{menu.name}.png")).isNull()
    assert panel.export_menus[0].export(".svg") == tmp_path / "kpi-curves.svg"
    svg = (tmp_path / "kpi-curves.svg").read_text()
    assert svg.lstrip().startswith("<?xml")
    assert "<image" not in svg  # the finished curves are paths, not the screen cache
