"""The main window over a database holding an experiment whose definition is broken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.store.places import sqlite_url
from app.store.store import Store
from app.views.experiment_list import ID_ROLE
from app.views.main_window import MainWindow
from tests.reliability.bad_db import GOLDEN_EXPERIMENT
from tests.run.test_cli_broken import PROBLEM, add_broken
from tests.views.window_helpers import open_window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """``broken`` (id 1, listed first) and the valid ``kept`` (id 2)."""
    db = tmp_path / "gui.db"  # the file open_window opens
    add_broken(db)
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    with Store(sqlite_url(db)) as store:
        store.create_experiment("kept", {**GOLDEN_EXPERIMENT, "code_dir": str(code)})
    with open_window(qtbot, tmp_path) as opened:
        yield opened


def test_a_broken_experiment_is_listed_and_shown_as_broken(window: MainWindow) -> None:
    model = window.experiments
    assert model.rowCount() == 2
    broken = model.index(0)
    assert broken.data().splitlines() == ["broken", f"broken · definition invalid: {PROBLEM}"]
    assert f"broken: definition invalid: {PROBLEM}" in broken.data(
        Qt.ItemDataRole.ToolTipRole)
    assert "kept" in model.index(1).data() and "draft" in model.index(1).data()

    window.list.setCurrentIndex(broken)
    assert window.current_id == broken.data(ID_ROLE)
    assert window.tabs.currentWidget() is window.log
    assert not window.tabs.isTabEnabled(0) and not window.tabs.isTabEnabled(1)
    assert "experiment 'broken' (id 1) cannot be used" in window.log.text()
    actions = window.actions_by_name
    assert not actions["start"].isEnabled() and not actions["settings"].isEnabled()
    assert actions["delete"].isEnabled() and actions["export"].isEnabled()

    window.list.setCurrentIndex(model.index(1))
    assert window.tabs.isTabEnabled(0) and window.tabs.isTabEnabled(1)
    assert actions["start"].isEnabled() and actions["settings"].isEnabled()
    assert window.kpi_name() == "loss"
