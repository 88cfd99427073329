"""The steps of the user journeys: what a person does in the window, and what they see.

Every journey test (``tests/journeys/test_journey_*.py``) is written with these steps,
so that when the window changes (a button renamed, a label reworded) one function here
changes, not five tests. A step acts as a user does (a click on a toolbar button, a
menu item, a tile or a row; typing; answering a dialog); the other functions read what
the user sees (the status bar, enabled states, tiles and their tooltips, tree rows and
cells), never the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QEvent, QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QHelpEvent, QTextDocumentFragment
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QToolTip,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.engine.experiment import experiment_from_dict
from app.views.main_window import MainWindow
from app.views.space_editor import SpaceEditor
from app.views.space_editor.cells import Column
from app.views.space_editor.editors import NumberRangeEditor
from app.views.trials.detail import TrialDetail
from tests.helpers import experiment_doc, write_code
from tests.views.window_helpers import open_window

D = TypeVar("D", bound=QDialog)
WAIT_MS = 30_000
"""Upper bound of any one wait on the window (trials start in well under that)."""


# --- the window ------------------------------------------------------------------------

@contextmanager
def lab_window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str,
               **fields: Any) -> Iterator[MainWindow]:
    """The window over a real SQLite file holding one experiment ``exp`` that runs
    ``script`` (as ``train.py``) with ``fields`` (see :func:`tests.helpers.experiment_doc`),
    shown and selected. The app's data folder is ``tmp_path/home``.

    At the end, unsaved edits are dropped and runs are stopped before the window
    closes, so closing asks nothing."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    code = write_code(tmp_path, script)
    with open_window(qtbot, tmp_path) as window:
        try:
            window.workspace.create(experiment_from_dict(experiment_doc(code, **fields), code))
            window.reload_experiments(select_name="exp")
            yield window
        finally:
            window.panels.space.undo_stack.setClean()


def code_dir(window: MainWindow) -> Path:
    """The shown experiment's code folder (where the user edits ``train.py``)."""
    return Path(window.workspace.config(window.current_id or 0).code_dir)


# --- acting --------------------------------------------------------------------------

def click(button: QAbstractButton | QWidget) -> None:
    """A left click in the middle of a button (or any widget), which must be shown and
    enabled: a user cannot click what they cannot see."""
    assert button.isVisible(), f"{_name(button)} is not shown"
    assert button.isEnabled(), f"{_name(button)} is disabled: {button.toolTip()!r}"
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _name(widget: QWidget) -> str:
    text = getattr(widget, "text", None)
    return repr(text()) if callable(text) else type(widget).__name__


def tick(box: QCheckBox, on: bool) -> None:
    """Click a check box (on its box) until it is ``on`` or off."""
    if box.isChecked() != on:
        assert box.isVisible() and box.isEnabled(), f"{box.text()!r} cannot be clicked"
        QTest.mouseClick(box, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(8, box.height() // 2))
    assert box.isChecked() == on, f"clicking {box.text()!r} did not tick it"


def plain(label: QLabel) -> str:
    """A label's text as the user reads it (rich text without its markup)."""
    return QTextDocumentFragment.fromHtml(label.text()).toPlainText()


def toolbar_click(window: MainWindow, label: str) -> None:
    """Click the toolbar button labelled ``label`` (``Start``, ``Stop``, ``Resume``...)."""
    for action in window.actions_by_name.values():
        if action.iconText() == label:
            for widget in action.associatedObjects():
                if isinstance(widget, QAbstractButton) and widget.isVisible():
                    click(widget)
                    return
    raise AssertionError(f"no toolbar button {label!r}")


def menu_item(window: MainWindow, menu: str, item: str) -> QAction:
    """The action ``item`` of the menu-bar menu ``menu`` (texts as shown, without ``&``)."""
    for top in window.menuBar().actions():
        if _plain(top.text()) == menu and top.menu() is not None:
            found = find_in_menu(top.menu(), item)  # type: ignore[arg-type]
            if found is not None:
                return found
    raise AssertionError(f"no menu item {menu} → {item}")


def choose(window: MainWindow, menu: str, item: str) -> None:
    """Choose ``menu → item`` from the menu bar (it must be enabled)."""
    action = menu_item(window, menu, item)
    assert action.isEnabled(), f"{menu} → {item} is disabled: {action.toolTip()!r}"
    action.trigger()


def find_in_menu(menu: QMenu, item: str) -> QAction | None:
    """The action of ``menu`` whose shown text is ``item``."""
    return next((a for a in menu.actions() if _plain(a.text()) == item), None)


def choose_in(menu: QMenu, item: str) -> None:
    """Pick ``item`` from a popup menu (a toolbar button's menu, say)."""
    action = find_in_menu(menu, item)
    assert action is not None, f"no {item!r} in {menu.title()!r}"
    assert action.isEnabled(), f"{item!r} is disabled in {menu.title()!r}"
    action.trigger()


def _plain(text: str) -> str:
    return text.replace("&", "")


def type_into(qtbot: QtBot, field: QWidget, text: str) -> None:
    """Replace what a line edit (or spin box) holds by typing ``text`` into it."""
    line = field if isinstance(field, QLineEdit) else field.findChild(QLineEdit)
    assert isinstance(line, QLineEdit), f"nothing to type into in {type(field).__name__}"
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, text)


def click_row(view: QAbstractItemView, index: QModelIndex) -> None:
    """Click the row of ``index`` in a list, table or tree view."""
    assert index.isValid()
    view.scrollTo(index)
    rect = view.visualRect(index)
    assert rect.isValid(), "the row is not shown"
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert view.currentIndex().siblingAtColumn(0) == index.siblingAtColumn(0)


class OnDialog:
    """Acts on the next modal dialog of type ``kind`` that is shown (as the user would:
    ``act`` ticks boxes and clicks its buttons), and keeps it in ``seen``."""

    def __init__(self, kind: type[D], act: Callable[[D], None]) -> None:
        self.kind, self.act = kind, act
        self.seen: QDialog | None = None
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, self.kind):
            self._timer.stop()
            self.seen = dialog
            try:
                self.act(dialog)  # type: ignore[arg-type]
            finally:  # a failed step closes the dialog rather than leave the test waiting
                if dialog.isVisible():
                    dialog.reject()


# --- the Trials tab ------------------------------------------------------------------

def show_tab(window: MainWindow, title: str) -> None:
    """Click the main window's tab titled ``title`` (``Space``, ``Trials``...)."""
    tabs = window.tabs
    index = next((i for i in range(tabs.count()) if tabs.tabText(i).startswith(title)), -1)
    assert index >= 0, f"no tab {title!r}"
    bar = tabs.tabBar()
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     bar.tabRect(index).center())
    assert tabs.currentIndex() == index


def tiles(window: MainWindow) -> list[int]:
    """The trials the grid shows a tile for, in their order."""
    return window.panels.trials.grid_view.grid.trial_ids()


def hover_tile(window: MainWindow, trial_id: int) -> str:
    """Rest the mouse on a trial's tile; returns the tooltip that shows."""
    grid = window.panels.trials.grid_view.grid
    centre = grid.tile_rect(trial_id).center()
    QTest.mouseMove(grid, centre)
    QApplication.sendEvent(grid, QHelpEvent(QEvent.Type.ToolTip, centre,
                                            grid.mapToGlobal(centre)))
    assert QToolTip.isVisible(), "no tooltip shows on the tile"
    return QToolTip.text()


def open_tile(qtbot: QtBot, window: MainWindow, trial_id: int) -> TrialDetail:
    """Click a trial's tile: its detail window opens; returns it."""
    grid = window.panels.trials.grid_view.grid
    QTest.mouseClick(grid, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     grid.tile_rect(trial_id).center())
    opened = [d for d in window.findChildren(TrialDetail)
              if d.trial_id == trial_id and d.isVisible()]  # a new one, or the one open
    assert len(opened) == 1, "clicking the tile showed no trial detail of its trial"
    qtbot.addWidget(opened[0])
    return opened[0]


def reopen_detail(qtbot: QtBot, window: MainWindow, detail: TrialDetail) -> TrialDetail:
    """The trial's detail as it is now: the open one, which follows its trial live (it
    once was a snapshot of the moment it was opened, issue 16)."""
    assert detail.isVisible(), "the detail the user opened is still open"
    return detail


def status(window: MainWindow) -> str:
    """The experiment's line in the status bar (state and counts)."""
    return window.status.text()


def status_message(window: MainWindow) -> str:
    """The status bar's passing message (``space saved``, ``exported ...``)."""
    return window.statusBar().currentMessage()


def wait_status(qtbot: QtBot, window: MainWindow, *parts: str, timeout: int = WAIT_MS) -> str:
    """Wait until the status bar line holds every one of ``parts``; returns it."""
    qtbot.waitUntil(lambda: all(p in status(window) for p in parts), timeout=timeout)
    return status(window)


def state_shown(window: MainWindow) -> str:
    """The experiment's state as the status bar starts with it (``running``...)."""
    return status(window).split(" · ", 1)[0]


def count_shown(window: MainWindow, what: str) -> int:
    """A count of the status bar (``running``, ``completed``, ``stopped``...), 0 if absent."""
    for part in status(window).split(" · "):
        words = part.split()
        if len(words) >= 2 and words[0] == what and words[1].isdigit():
            return int(words[1])
    return 0


def point_on(window: MainWindow, action: str) -> str:
    """An action's state as its toolbar button or menu item shows it (``on``/``off``)."""
    return "on" if window.actions_by_name[action].isEnabled() else "off"


# --- the Space tab ---------------------------------------------------------------------

def open_cell(qtbot: QtBot, editor: SpaceEditor, path: str, column: Column) -> QWidget:
    """Double-click the cell of node ``path`` in ``column``: its editor opens; returns it."""
    index = editor.model.index_for_path(path, column)
    assert index.isValid(), f"the tree shows no {path}"
    editor.tree.scrollTo(index)
    centre = editor.tree.visualRect(index).center()
    for press in (QTest.mouseClick, QTest.mouseDClick):
        press(editor.tree.viewport(), Qt.MouseButton.LeftButton,
              Qt.KeyboardModifier.NoModifier, centre)
    widget = editor.tree.indexWidget(index)
    assert widget is not None, f"double-clicking {path}'s {column.name} opened no editor"
    return widget


def press_enter(qtbot: QtBot, widget: QWidget) -> None:
    """Press Enter in an open cell editor: it commits and closes; Enter moves on along
    the row, and the editor it opens on the next cell is left with Escape."""
    focus = widget.findChild(QLineEdit) if not isinstance(widget, QLineEdit) else widget
    view = widget.parentWidget()
    while view is not None and not isinstance(view, QAbstractItemView):
        view = view.parentWidget()
    assert isinstance(view, QAbstractItemView), "not a cell editor"
    index = view.currentIndex()
    qtbot.keyClick(focus if focus is not None else widget, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.indexWidget(index) is None, timeout=2000)
    following = view.indexWidget(view.currentIndex())
    if following is not None:
        qtbot.keyClick(following, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: view.indexWidget(view.currentIndex()) is None, timeout=2000)


def add_node(qtbot: QtBot, editor: SpaceEditor, menu: QMenu, kind: str, name: str) -> None:
    """Pick ``kind`` (``number``, ``choice of groups``...) from one of the editor's add
    menus; type ``name`` into the name cell it opens, then Enter."""
    choose_in(menu, kind)
    line = editor.tree.indexWidget(editor.current_index())
    assert isinstance(line, QLineEdit), "adding a node opens its name for typing"
    line.selectAll()
    qtbot.keyClicks(line, name)
    press_enter(qtbot, line)
    assert editor.current_index().data() == name


def rename(qtbot: QtBot, editor: SpaceEditor, path: str, name: str) -> None:
    """Double-click a node's name, type the new one, Enter."""
    line = open_cell(qtbot, editor, path, Column.NAME)
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, name)
    press_enter(qtbot, line)


def set_type(qtbot: QtBot, editor: SpaceEditor, path: str, kind: str) -> None:
    """Pick ``kind`` (``int``, ``float``) in a number's Type cell."""
    combo = open_cell(qtbot, editor, path, Column.TYPE)
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findText(kind))
    press_enter(qtbot, combo)


def set_range(qtbot: QtBot, editor: SpaceEditor, path: str, distribution: str, low: str,
              high: str) -> None:
    """In a number's Search cell: pick the distribution, type min, click max and type
    it, Enter (Tab would go on along the row)."""
    widget = open_cell(qtbot, editor, path, Column.SEARCH)
    assert isinstance(widget, NumberRangeEditor)
    widget.distribution.setCurrentIndex(widget.distribution.findText(distribution))
    widget.window().activateWindow()
    type_into(qtbot, widget.low, low)
    type_into(qtbot, widget.high, high)
    press_enter(qtbot, widget.high)


def set_default(qtbot: QtBot, editor: SpaceEditor, path: str, value: str) -> None:
    """Type a number's default into its Default cell, Enter."""
    box = open_cell(qtbot, editor, path, Column.DEFAULT)
    type_into(qtbot, box, value)
    press_enter(qtbot, box)


def tree_rows(editor: SpaceEditor, path: str = "") -> list[str]:
    """The names the tree shows under ``path`` (the top level when empty)."""
    parent = editor.model.index_for_path(path) if path else QModelIndex()
    return [editor.model.index(row, Column.NAME, parent).data()
            for row in range(editor.model.rowCount(parent))]


def cell_text(editor: SpaceEditor, path: str, column: Column) -> str:
    """What a cell of the tree shows."""
    return str(editor.model.index_for_path(path, column).data())
