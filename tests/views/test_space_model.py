"""The space tree model: Qt's model tester, and what a person sees in the tree."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.engine.space import space_from_dict
from app.engine.space.files import load_space
from app.main import DEMO_SPACE
from app.views.main_window import MainWindow
from app.views.space_model import SpaceTreeModel
from tests.engine.spaces import EVERY_KIND


def test_model_passes_qts_model_tester() -> None:
    model = SpaceTreeModel(space_from_dict(EVERY_KIND))
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.set_space(space_from_dict(EVERY_KIND))


def test_branches_show_under_their_choice() -> None:
    model = SpaceTreeModel(space_from_dict(EVERY_KIND))
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    optimizer = model.index(names.index("optimizer"), 0)
    assert model.index(optimizer.row(), 1).data() == "choice of groups"
    assert [model.index(r, 0, optimizer).data() for r in range(model.rowCount(optimizer))] == [
        "sgd", "adam"]
    sgd = model.index(0, 0, optimizer)
    momentum = model.index(1, 0, sgd)
    assert momentum.data() == "momentum"
    assert model.index(1, 4, sgd).data() == "uniform[0.0, 0.99]"
    assert model.parent(momentum) == sgd and model.parent(optimizer) == QModelIndex()
    lr = model.index(names.index("lr"), 2)
    assert lr.data(Qt.ItemDataRole.DisplayRole) == "AUTO"


def test_main_window_shows_the_demo_and_a_preview(qtbot: QtBot) -> None:
    window = MainWindow(load_space(DEMO_SPACE), "demo")
    qtbot.addWidget(window)
    window.show()
    assert window.model.rowCount() == 3
    assert len(window.preview.toPlainText().splitlines()) == 10
    assert "Grid: not possible" in window.grid_label.text()
