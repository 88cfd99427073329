"""Issue 17.5: how many key presses and clicks the README's example space takes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QToolButton
from pytestqt.qtbot import QtBot

from app.engine.space import space_to_dict
from app.views.space_editor import SpaceEditor
from app.views.space_editor.cells import Column
from tests.views.hands import ROOT, Hands, Key, readme_space

BEFORE, BEFORE_TYPED = 349, 165
"""Events, and typed characters among them, of the cheapest route through the editor
before issue 17.5 (``build_before`` of commit a0049b6, run on that commit's editor; it
no longer runs: Enter now goes on along the row and a choice's values are one line)."""


def build_now(qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    """The route with keyboard entry along rows, proposals by name, ranges that move
    the default, typed branch names."""
    tree, model = editor.tree, editor.model
    buttons = {b.text(): b for b in editor.findChildren(QToolButton)}

    def editing(column: Column) -> bool:
        current = tree.currentIndex()
        return current.column() == column and tree.indexWidget(current) is not None

    def add(menu: str, kind: str, name: str, then: Column | None) -> None:
        hands.pick_from_menu(lambda: hands.click(buttons[menu]), kind)
        qtbot.waitUntil(lambda: editing(Column.NAME))
        hands.type(name)
        press(Key.Key_Return, then)

    def press(key: Key, then: Column | None) -> None:
        hands.key(key)
        if then is None:
            qtbot.waitUntil(lambda: tree.indexWidget(tree.currentIndex()) is None)
        else:
            qtbot.waitUntil(lambda: editing(then))

    def replace(text: str, then: Column | None) -> None:
        hands.type(text)  # an editor opens with its text selected
        press(Key.Key_Return, then)

    def fields(*texts: str, first: str = "") -> None:
        """In the open range editor: a distribution by its first letter, then Tab to
        each box and type, Enter at the end."""
        if first:
            hands.type(first)
        for text in texts:
            hands.key(Key.Key_Tab)  # a box entered by Tab has its text selected
            hands.type(text)
        press(Key.Key_Return, None)

    def cell(path: str, column: Column) -> None:
        hands.double_click_cell(tree, model.index_for_path(path, column))

    add("+ Add", "number", "lr", Column.TYPE)  # proposed: loguniform 1e-5..0.1
    press(Key.Key_Return, Column.DEFAULT)
    replace("0.01", Column.SEARCH)
    fields("1e-4")
    add("+ Add", "number", "units", Column.TYPE)  # proposed: an int, step 1
    press(Key.Key_Return, Column.DEFAULT)
    replace("64", Column.SEARCH)
    fields("16", "128", "16", first="q")
    add("+ Add", "choice of numbers", "batch_size", Column.DEFAULT)
    press(Key.Key_Tab, Column.SEARCH)
    replace("16,32,64", None)
    cell("batch_size", Column.DEFAULT)
    hands.type("3")  # picks 32, goes on to the values
    press(Key.Key_Escape, None)
    add("+ Add", "choice of strings", "activation", Column.DEFAULT)
    press(Key.Key_Tab, Column.SEARCH)
    replace("relu,tanh", None)
    hands.click_check(tree, model.index_for_path("activation", Column.AUTO))
    add("+ Add", "boolean", "use_bn", Column.DEFAULT)
    press(Key.Key_Escape, None)
    add("+ Add", "string", "tag", Column.DEFAULT)
    hands.type("baseline")
    press(Key.Key_Return, None)
    add("+ Add", "group", "first_dense", None)
    add("+ Add", "number", "neurons", Column.TYPE)  # into the group; an int
    press(Key.Key_Return, Column.DEFAULT)
    replace("64", Column.SEARCH)
    fields("32", "256", first="r")
    hands.click_cell(tree, model.index_for_path("first_dense"))
    add("Add sibling", "choice of groups", "optimizer", Column.DEFAULT)
    press(Key.Key_Escape, None)
    hands.click_cell(tree, model.index_for_path("optimizer.a"))
    add("+ Add", "number", "lr", Column.TYPE)
    press(Key.Key_Return, Column.DEFAULT)
    replace("0.1", Column.SEARCH)
    fields("1e-3", "1")
    add("+ Add", "number", "momentum", Column.TYPE)  # proposed: 0..0.99, 0.9
    press(Key.Key_Escape, None)
    hands.click_cell(tree, model.index_for_path("optimizer", Column.SEARCH))
    hands.type("sgd,adam")  # a becomes sgd; adam gets a copy of its lr and momentum
    press(Key.Key_Return, None)
    cell("optimizer.adam.lr", Column.DEFAULT)
    replace("1e-3", Column.SEARCH)
    fields("1e-5", "1e-2")
    hands.click_cell(tree, model.index_for_path("optimizer.adam.momentum"))
    hands.type("beta1")
    press(Key.Key_Return, Column.TYPE)
    press(Key.Key_Tab, Column.DEFAULT)
    press(Key.Key_Tab, Column.SEARCH)
    hands.type("f")  # fixed
    press(Key.Key_Return, None)
    cell("optimizer", Column.DEFAULT)
    hands.type("a")  # adam, and on to the branches
    press(Key.Key_Escape, None)


def shown_editor(qtbot: QtBot) -> SpaceEditor:
    editor = SpaceEditor()
    qtbot.addWidget(editor)
    editor.resize(1400, 900)
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    qtbot.waitUntil(editor.isActiveWindow)
    return editor


def test_the_readme_space_takes_far_fewer_events(qtbot: QtBot) -> None:
    editor = shown_editor(qtbot)
    hands = Hands(qtbot)
    build_now(qtbot, editor, hands)
    for got, wanted in zip(space_to_dict(editor.space())["space"], readme_space()["space"],
                           strict=True):
        assert got == wanted
    print(f"README space: {hands.events} input events, {hands.typed} of them typed "
          f"characters (before: {BEFORE}, {BEFORE_TYPED})")
    assert hands.events <= BEFORE * 3 // 4
    # the clicks, Enters and selections around the names and values: at most half
    assert hands.events - hands.typed <= (BEFORE - BEFORE_TYPED) // 2


def test_the_readme_space_pasted_or_proposed(qtbot: QtBot, tmp_path: Path) -> None:
    editor = shown_editor(qtbot)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```yaml\nversion: 1\nspace:\n", 1)[1].split("```", 1)[0]
    QGuiApplication.clipboard().setText("version: 1\nspace:\n" + block)
    editor.tree.setFocus()
    hands = Hands(qtbot)
    hands.key(Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert space_to_dict(editor.space()) == readme_space() and hands.events == 1
