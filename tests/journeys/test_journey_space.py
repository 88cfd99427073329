"""Journey 1: define a space by point and click, save it, start, see the trials' params.

A lab user opens the Space tab of their experiment (one number ``x`` so far), adds a
log-uniform learning rate, an integer and a choice of two optimizers with their own
children, all through the tree's menus and cell editors; saves; starts; and sees
trials appear in the grid with those params in their tooltips.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.views.main_window import SPACE_TAB, SPACE_TAB_MODIFIED
from app.views.space_editor.cells import Column
from tests.journeys.steps import (
    WAIT_MS,
    add_node,
    cell_text,
    choose,
    click_row,
    hover_tile,
    lab_window,
    rename,
    set_default,
    set_range,
    set_type,
    show_tab,
    status_message,
    tiles,
    toolbar_click,
    tree_rows,
    wait_status,
)

SCRIPT = """
import sweeplab
branch = sweeplab.param("optimizer")
extra = sweeplab.param("optimizer.momentum", 0.0) if branch == "sgd" else 0.0
loss = float(sweeplab.param("x")) + int(sweeplab.param("layers")) * sweeplab.param("lr") + extra
sweeplab.report("loss", loss, step=1)
"""


def test_define_a_space_by_point_and_click_save_it_and_run_it(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with lab_window(qtbot, tmp_path, monkeypatch, SCRIPT,
                    limits={"max_trials": 4, "max_parallel": 2}) as window:
        show_tab(window, "Space")
        editor = window.panels.space
        assert tree_rows(editor) == ["x"]
        click_row(editor.tree, editor.model.index_for_path("x"))

        # a learning rate: a number, log-uniform over [1e-4, 0.1], default 1e-3
        add_node(qtbot, editor, editor.add_menu, "number", "lr")
        set_range(qtbot, editor, "lr", "loguniform", "1e-4", "0.1")
        set_default(qtbot, editor, "lr", "1e-3")
        assert cell_text(editor, "lr", Column.DEFAULT) == "1e-03"
        assert cell_text(editor, "lr", Column.SEARCH) == "loguniform [1e-04, 1e-01]"

        # an integer: layers from 1 to 4
        add_node(qtbot, editor, editor.add_menu, "number", "layers")
        set_type(qtbot, editor, "layers", "int")
        set_range(qtbot, editor, "layers", "randint", "1", "4")
        set_default(qtbot, editor, "layers", "2")
        assert cell_text(editor, "layers", Column.TYPE) == "int"

        # a choice of two groups, each with a child of its own
        add_node(qtbot, editor, editor.add_menu, "choice of groups", "optimizer")
        rename(qtbot, editor, "optimizer.a", "sgd")
        rename(qtbot, editor, "optimizer.b", "adam")
        click_row(editor.tree, editor.model.index_for_path("optimizer.sgd"))
        add_node(qtbot, editor, editor.child_menu, "number", "momentum")
        click_row(editor.tree, editor.model.index_for_path("optimizer.adam"))
        add_node(qtbot, editor, editor.child_menu, "number", "beta1")
        set_range(qtbot, editor, "optimizer.adam.beta1", "uniform", "0.8", "0.99")
        set_default(qtbot, editor, "optimizer.adam.beta1", "0.9")

        assert tree_rows(editor) == ["x", "lr", "layers", "optimizer"]
        assert tree_rows(editor, "optimizer") == ["sgd", "adam"]
        assert tree_rows(editor, "optimizer.sgd") == ["momentum"]
        assert tree_rows(editor, "optimizer.adam") == ["beta1"]
        assert not editor.status.text().startswith("The space cannot run"), editor.status.text()
        assert editor.preview.table.rowCount() > 0 or editor.preview.message.text()
        tab = window.tabs.tabText(window.tabs.indexOf(editor))
        assert tab == SPACE_TAB_MODIFIED and window.isWindowModified()

        # save (Experiment → Save space): the mark goes, the status bar says so
        choose(window, "Experiment", "Save space")
        assert window.tabs.tabText(window.tabs.indexOf(editor)) == SPACE_TAB
        assert not window.isWindowModified()
        assert "saved" in status_message(window)

        # start: trials appear in the grid, each tile telling its params
        toolbar_click(window, "Start")
        show_tab(window, "Trials")
        qtbot.waitUntil(lambda: len(tiles(window)) >= 2, timeout=WAIT_MS)
        wait_status(qtbot, window, "completed 4", timeout=60_000)
        assert len(tiles(window)) == 4
        for trial_id in tiles(window):
            tip = hover_tile(window, trial_id)
            shown = {line.split(" = ")[0] for line in tip.splitlines() if " = " in line}
            assert {"x", "lr", "layers", "optimizer"} <= shown, tip
            branch = next(line.split(" = ")[1] for line in tip.splitlines()
                          if line.startswith("optimizer = "))
            child = {"sgd": "optimizer.momentum", "adam": "optimizer.beta1"}[branch]
            assert child in shown, tip
            lr = next(float(line.split(" = ")[1]) for line in tip.splitlines()
                      if line.startswith("lr = "))
            layers = next(line.split(" = ")[1] for line in tip.splitlines()
                          if line.startswith("layers = "))
            assert 1e-4 <= lr <= 0.1 and layers in {"1", "2", "3", "4"}, tip
        assert window.trial_count() == 4
