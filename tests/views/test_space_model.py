"""The space tree model: Qt's model tester, and what a person sees in the tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.engine.space import space_from_dict
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


def test_gui_smoke_run_opens_the_demo_on_a_fresh_database(tmp_path: Path) -> None:
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("SWEEPLAB_DB", None)
    result = subprocess.run([sys.executable, "-m", "app", "gui", "--demo", "--smoke"],
                            capture_output=True, text=True, env=env, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sweeplab.db").is_file()
