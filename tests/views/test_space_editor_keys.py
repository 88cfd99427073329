"""Issue 17.5-17.8: building a space by keyboard and mouse, defaults, undo, paste,
proposing from a script, names shown whole; real widgets, real key and mouse events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from app.application.demo import DEMO_EXPERIMENT
from app.engine.experiment import load_experiment
from app.engine.space import space_from_dict, space_to_dict
from app.engine.space.nodes import Choice, Distribution, Group, NumberParam
from app.views.main_window import MainWindow
from app.views.space_editor import NodeKind, SpaceEditor
from app.views.space_editor.cells import Column
from app.views.space_editor.editors import NumberRangeEditor, ValuesEditor
from tests.engine.spaces import EVERY_KIND, doc, number
from tests.views.hands import Hands, Key, active_space_editor
from tests.views.window_helpers import open_window

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def editor(qtbot: QtBot) -> SpaceEditor:
    return active_space_editor(qtbot)


@pytest.fixture
def hands(qtbot: QtBot) -> Hands:
    return Hands(qtbot)


def editing(editor: SpaceEditor, column: Column) -> object:
    """The cell editor open on the current row's ``column`` (None when none)."""
    current = editor.tree.currentIndex()
    return editor.tree.indexWidget(current.siblingAtColumn(column)) \
        if current.isValid() and current.column() == column else None


def node(editor: SpaceEditor, path: str) -> object:
    return editor.model.space().find(path)


# -- 17.5: keyboard entry through the row, defaults per kind --------------------------


def test_enter_and_tab_walk_the_row_and_typing_starts_editing(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add_menu.actions()[[k for k in NodeKind].index(NodeKind.NUMBER)].trigger()
    qtbot.waitUntil(lambda: isinstance(editing(editor, Column.NAME), QLineEdit))
    hands.type("lr")
    hands.key(Key.Key_Tab)  # Tab: name -> type
    qtbot.waitUntil(lambda: isinstance(editing(editor, Column.TYPE), QComboBox))
    lr = node(editor, "lr")
    assert isinstance(lr, NumberParam)  # proposed for its name, in the same step
    assert (lr.distribution, lr.min, lr.max, lr.default) == (Distribution.LOGUNIFORM, 1e-5,
                                                            0.1, 1e-3)
    hands.key(Key.Key_Backtab, SHIFT)  # back to the name
    qtbot.waitUntil(lambda: isinstance(editing(editor, Column.NAME), QLineEdit))
    hands.key(Key.Key_Return)  # Enter: name -> default (the type is proposed)
    qtbot.waitUntil(lambda: editing(editor, Column.DEFAULT) is not None)
    hands.key(Key.Key_A, CTRL)
    hands.type("0.01")
    hands.key(Key.Key_Return)  # default -> range
    qtbot.waitUntil(lambda: isinstance(editing(editor, Column.SEARCH), NumberRangeEditor))
    assert lr.default == 0.01
    hands.key(Key.Key_Return)  # the last cell of the row added last: on to a new row
    qtbot.waitUntil(lambda: isinstance(editing(editor, Column.NAME), QLineEdit))
    assert editor.model.rowCount() == 2 and editor.current_index().row() == 1
    hands.key(Key.Key_Escape)  # left as it was, the new row goes, and no undo step stays
    qtbot.waitUntil(lambda: editor.model.rowCount() == 1)
    assert editor.current_index() == editor.model.index_for_path("lr")
    assert not editor.undo_stack.canRedo()

    editor.tree.setFocus()
    editor.tree.setCurrentIndex(editor.model.index_for_path("lr", Column.NAME))
    hands.type("eta")  # typing on a cell edits it with what was typed
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: node(editor, "eta") is lr)
    assert lr.default == 0.01, "renaming an edited number keeps its range and default"
    assert editor.undo_stack.count() == 4  # add, name (with its proposal), default, rename


def test_a_new_int_counts_in_whole_steps_and_names_propose_ranges(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add(NodeKind.NUMBER)
    editor.model.set_fields(editor.current_index(), name="epochs")
    epochs = node(editor, "epochs")
    assert isinstance(epochs, NumberParam) and epochs.integer
    assert (epochs.min, epochs.max, epochs.step, epochs.default) == (1, 10, 1, 1)
    editor.add(NodeKind.NUMBER)
    editor.model.set_fields(editor.current_index(), name="momentum")
    momentum = node(editor, "momentum")
    assert isinstance(momentum, NumberParam)
    assert (momentum.min, momentum.max, momentum.default) == (0.0, 0.99, 0.9)
    editor.add(NodeKind.NUMBER)  # a plain number: uniform [0, 1]; made an int: 1..10 step 1
    plain = editor.model.node(editor.current_index())
    assert isinstance(plain, NumberParam) and (plain.min, plain.max) == (0.0, 1.0)
    editor.tree.setCurrentIndex(editor.current_index().siblingAtColumn(Column.TYPE))
    editor.tree.edit(editor.tree.currentIndex())
    combo = editing(editor, Column.TYPE)
    assert isinstance(combo, QComboBox)
    hands.key(Key.Key_Down)  # float -> int, applied at once, and on to the default
    qtbot.waitUntil(lambda: plain.integer)
    assert (plain.min, plain.max, plain.step, plain.default) == (1, 10, 1, 1)
    assert editor.validity() == (True, "")


def test_typing_branch_names_adds_branches_with_the_children_of_the_last(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    index = editor.add(NodeKind.CHOICE_OF_GROUPS)
    editor.model.set_fields(index, name="optimizer")
    editor.select("optimizer.a")
    editor.add(NodeKind.NUMBER)
    editor.model.set_fields(editor.current_index(), name="lr")
    hands.click_cell(editor.tree, editor.model.index_for_path("optimizer", Column.SEARCH))
    hands.type("sgd, adam")  # typing on the cell replaces the branch names
    hands.key(Key.Key_Return)
    optimizer = node(editor, "optimizer")
    assert isinstance(optimizer, Choice)
    qtbot.waitUntil(lambda: [b.name for b in optimizer.branches] == ["sgd", "adam"])
    sgd, adam = optimizer.branches
    assert [c.name for c in sgd.children] == ["lr"]  # a renamed, b deleted
    assert [c.name for c in adam.children] == ["lr"] and adam.children[0] is not sgd.children[0]
    assert optimizer.default == "sgd"
    editor.undo_action.trigger()  # one step
    assert [b.name for b in optimizer.branches] == ["a", "b"]


def test_paste_a_space_as_yaml_or_json(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(doc(number("lr", "loguniform", min=1e-4, max=0.1,
                                                default=0.01))))
    editor.select("lr")
    QGuiApplication.clipboard().setText(
        "- {name: lr, type: number, auto: true, distribution: uniform, min: 0, max: 1, "
        "default: 0.5}\n- {name: use_bn, type: boolean, auto: true, default: false}\n")
    editor.tree.setFocus()
    qtbot.keyClick(editor.tree, Key.Key_V, CTRL)
    assert [n.name for n in editor.space().children] == ["lr", "lr_2", "use_bn"]
    QGuiApplication.clipboard().setText('{"name": "g", "type": "group", "children": []}')
    editor.paste_action.trigger()
    assert editor.current_index().data() == "g"
    QGuiApplication.clipboard().setText('{"name": "x", "type": "number", "min": [')
    editor.paste_action.trigger()
    assert editor.status.text().startswith("Not done: Paste: the pasted text: line 1")
    editor.undo_action.trigger()
    editor.undo_action.trigger()  # each paste is one step
    assert [n.name for n in editor.space().children] == ["lr"]


SCRIPT = '''import sweeplab
from sweeplab import param

lr = sweeplab.param("lr", 0.01)
optimizer = sweeplab.param("optimizer", "adam")
beta1 = param("optimizer.beta1", default=0.9)
units = sweeplab.param("units", 64)
use_bn = sweeplab.param("use_bn", False)
activation = sweeplab.param("activation", "relu")
'''


def test_propose_from_script_adds_the_params_it_reads(editor: SpaceEditor,
                                                      tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    editor.set_space(space_from_dict(doc(number("units", default=3))))
    added = editor.propose_from_script(script)
    assert added == ["lr", "optimizer", "use_bn", "activation"]  # units was there
    built = editor.space()
    lr, optimizer = built.find("lr"), built.find("optimizer")
    assert isinstance(lr, NumberParam) and lr.distribution is Distribution.LOGUNIFORM
    assert lr.default == 0.01 and (lr.min, lr.max) == (1e-5, 0.1)
    assert isinstance(optimizer, Choice) and optimizer.default == "adam"
    assert [c.name for c in optimizer.branches[0].children] == ["beta1"]
    assert editor.validity() == (True, "")
    editor.undo_action.trigger()
    assert [n.name for n in editor.space().children] == ["units"]
    empty = tmp_path / "empty.py"
    empty.write_text("print('no params')\n")
    assert editor.propose_from_script(empty) == []
    assert "empty.py has no sweeplab.param" in editor.status.text()


# -- 17.6: defaults follow ranges, values commit on Enter and focus-out, combos at once --


def test_changing_the_range_moves_the_default_into_it(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.set_space(space_from_dict(doc(number("x", "uniform", min=0.0, max=1.0,
                                                default=0.5))))
    widget = hands.double_click_cell(editor.tree, editor.model.index_for_path("x",
                                                                             Column.SEARCH))
    assert isinstance(widget, NumberRangeEditor)
    hands.replace_text(widget.low.lineEdit(), "2")
    hands.replace_text(widget.high.lineEdit(), "10")
    hands.key(Key.Key_Return)
    x = node(editor, "x")
    assert isinstance(x, NumberParam)
    qtbot.waitUntil(lambda: x.max == 10)
    assert x.default == 6.0 and editor.validity() == (True, "")
    editor.model.set_fields(editor.model.index_for_path("x"), distribution="loguniform",
                            min=1e-4, max=0.1)
    assert x.default == 0.01 and editor.validity() == (True, "")
    editor.model.set_fields(editor.model.index_for_path("x"), integer=True, min=16, max=128,
                            distribution="quniform", step=16)
    assert x.default == 64 and editor.validity() == (True, "")


def test_the_values_editor_commits_on_enter_and_when_the_focus_leaves(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    batch = node(editor, "batch")
    assert isinstance(batch, Choice)
    widget = hands.double_click_cell(editor.tree, editor.model.index_for_path("batch",
                                                                             Column.SEARCH))
    assert isinstance(widget, ValuesEditor)
    hands.key(Key.Key_A, CTRL)
    hands.type("8, 16")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: batch.values == [8, 16])
    widget = hands.double_click_cell(editor.tree, editor.model.index_for_path("batch",
                                                                             Column.SEARCH))
    hands.key(Key.Key_End)
    hands.type(", 32")
    hands.click(editor.preview.table.viewport())  # elsewhere: the focus leaves
    qtbot.waitUntil(lambda: batch.values == [8, 16, 32])


def test_a_type_picked_from_the_combo_applies_at_once(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    combo = hands.double_click_cell(editor.tree,
                                    editor.model.index_for_path("dropout", Column.TYPE))
    assert isinstance(combo, QComboBox)
    hands.pick_from_combo(combo, "int")
    dropout = node(editor, "dropout")
    assert isinstance(dropout, NumberParam)
    qtbot.waitUntil(lambda: dropout.integer, timeout=2000)  # no Enter needed
    qtbot.waitUntil(lambda: editor.tree.indexWidget(editor.tree.currentIndex()) is None)


# -- 17.7: undo -------------------------------------------------------------------------


def test_an_inline_edit_of_distribution_and_min_is_one_undo_step_each(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    dropout = node(editor, "dropout")
    assert isinstance(dropout, NumberParam)
    widget = hands.double_click_cell(editor.tree,
                                     editor.model.index_for_path("dropout", Column.SEARCH))
    assert isinstance(widget, NumberRangeEditor)
    hands.pick_from_combo(widget.distribution, "loguniform")
    hands.replace_text(widget.low.lineEdit(), "0.01")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: dropout.min == 0.01)
    assert dropout.distribution is Distribution.LOGUNIFORM
    assert editor.undo_stack.count() == 2
    editor.undo_action.trigger()
    assert dropout.distribution is Distribution.LOGUNIFORM and dropout.min == 0.0
    editor.undo_action.trigger()
    assert dropout.distribution is Distribution.UNIFORM


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    with open_window(qtbot, tmp_path) as win:
        config = load_experiment(DEMO_EXPERIMENT)
        win.workspace.create(config)
        win.reload_experiments(select_name=config.name)
        win.tabs.setCurrentWidget(win.panels.space)
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow)
        yield win


@contextmanager
def saved_at_the_end(window: MainWindow) -> Iterator[None]:
    """Leave the space saved whatever happens: pytest-qt closes the window before the
    fixtures end, and closing with unsaved edits would ask."""
    try:
        yield
    finally:
        window.panels.space.undo_stack.setClean()


def test_save_keeps_the_undo_history(qtbot: QtBot, window: MainWindow) -> None:
    with saved_at_the_end(window):
        check_save_keeps_the_undo_history(qtbot, window)


def check_save_keeps_the_undo_history(qtbot: QtBot, window: MainWindow) -> None:
    editor = window.panels.space
    first = editor.space().children[0].name
    editor.select(first)
    editor.duplicate_selected()
    assert editor.is_modified()
    window.actions_by_name["save"].trigger()
    qtbot.waitUntil(lambda: not editor.is_modified())
    window.reload_experiments()  # what Settings' OK does
    assert editor.undo_stack.canUndo() and not editor.is_modified()
    editor.undo_action.trigger()
    assert [n.name for n in editor.space().children].count(f"{first}_2") == 0


@pytest.mark.parametrize("redo", [(Key.Key_Y, CTRL), (Key.Key_Z, CTRL | SHIFT)])
def test_undo_and_redo_keys_work_wherever_the_focus_is(
        qtbot: QtBot, window: MainWindow, redo: tuple[Key, Qt.KeyboardModifier]) -> None:
    with saved_at_the_end(window):
        check_undo_keys(qtbot, window, redo)


def check_undo_keys(qtbot: QtBot, window: MainWindow,
                    redo: tuple[Key, Qt.KeyboardModifier]) -> None:
    editor = window.panels.space
    first = editor.space().children[0].name
    editor.select(first)
    editor.duplicate_selected()
    window.list.setFocus()  # the experiment list, outside the tree
    qtbot.waitUntil(window.list.hasFocus)
    qtbot.keyClick(QApplication.focusWidget(), Key.Key_Z, CTRL)
    assert editor.space().find(f"{first}_2") is None
    qtbot.keyClick(QApplication.focusWidget(), *redo)
    assert editor.space().find(f"{first}_2") is not None


# -- 17.8: names are not cut -----------------------------------------------------------


def test_names_are_never_cut_and_tooltips_give_the_path(qtbot: QtBot,
                                                       editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    group = editor.add(NodeKind.GROUP)
    editor.model.set_fields(group, name="model_architecture_settings")
    inner = editor.model.add_node(NodeKind.GROUP, group)
    child = editor.model.add_node(NodeKind.NUMBER, inner)
    editor.model.set_fields(child, name="weight_decay_of_the_embeddings")
    path = "model_architecture_settings.group.weight_decay_of_the_embeddings"
    delegate = editor.tree.itemDelegate()
    for _, item in editor.model.space().walk():
        index = editor.model.index_of(item)
        option = QStyleOptionViewItem()
        option.initFrom(editor.tree)
        needed = delegate.sizeHint(option, index).width()
        assert editor.tree.visualRect(index).width() >= needed, f"{item.name} is cut"
    assert editor.model.index_for_path(path).data(Qt.ItemDataRole.ToolTipRole) == path
    assert isinstance(editor.model.space().find("model_architecture_settings"), Group)
    assert space_to_dict(editor.space())["version"] == 1
