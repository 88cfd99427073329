"""Issue 17.5: how many key presses and clicks the README's example space takes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QToolButton
from pytestqt.qtbot import QtBot

from app.engine.space import space_to_dict
from app.views.space_editor import SpaceEditor
from app.views.space_editor.cells import Column
from app.views.space_editor.editors import NumberRangeEditor, ValuesEditor
from tests.views.hands import Hands, Key, readme_space


def build_before(qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    """The cheapest route through the editor as it was before issue 17.5."""
    tree, model = editor.tree, editor.model
    buttons = {b.text(): b for b in editor.findChildren(QToolButton)}

    def add(menu: str, kind: str, name: str) -> None:
        hands.pick_from_menu(lambda: hands.click(buttons[menu]), kind)
        qtbot.waitUntil(lambda: isinstance(tree.indexWidget(tree.currentIndex()), QLineEdit))
        hands.type(name)
        enter()

    def enter() -> None:
        hands.key(Key.Key_Return)
        qtbot.waitUntil(lambda: tree.indexWidget(tree.currentIndex()) is None, timeout=2000)

    def cell(path: str, column: Column):  # type: ignore[no-untyped-def]
        return hands.double_click_cell(tree, model.index_for_path(path, column))

    def number_range(path: str, dist: str | None, low: str | None = None,
                     high: str | None = None, step: str | None = None) -> None:
        widget = cell(path, Column.SEARCH)
        assert isinstance(widget, NumberRangeEditor)
        if dist is not None:
            hands.pick_from_combo(widget.distribution, dist)
        for box, text in ((widget.low, low), (widget.high, high), (widget.step, step)):
            if text is not None:
                hands.replace_text(box.lineEdit(), text)
        enter()

    def default(path: str, text: str) -> None:
        widget = cell(path, Column.DEFAULT)
        if isinstance(widget, QComboBox):
            hands.pick_from_combo(widget, text)
        else:
            hands.key(Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            hands.type(text)
        enter()

    def integer(path: str) -> None:
        widget = cell(path, Column.TYPE)
        assert isinstance(widget, QComboBox)
        hands.pick_from_combo(widget, "int")
        enter()  # the extra Enter of 17.6

    def values(path: str, texts: list[str]) -> None:
        widget = cell(path, Column.SEARCH)
        assert isinstance(widget, ValuesEditor)
        for row, text in enumerate(texts):
            item = widget.list.item(row)
            hands.double_click(widget.list.viewport(),
                               widget.list.visualItemRect(item).center())
            hands.key(Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            hands.type(text)
            hands.key(Key.Key_Return)
        assert len(texts) == widget.list.count()
        # commits only on a click on another row (17.6)
        hands.click_cell(tree, model.index_for_path("lr"))
        qtbot.waitUntil(lambda: not widget.isVisible(), timeout=2000)

    add("+ Add", "number", "lr")
    number_range("lr", "loguniform", "1e-4", "0.1")
    default("lr", "0.01")
    add("+ Add", "number", "units")
    integer("units")
    number_range("units", "quniform", "16", "128", "16")
    default("units", "64")
    add("+ Add", "choice of numbers", "batch_size")
    values("batch_size", ["16", "32", "64"])
    default("batch_size", "32")
    hands.click_cell(tree, model.index_for_path("batch_size"))
    add("+ Add", "choice of strings", "activation")
    values("activation", ["relu", "tanh"])
    hands.click_check(tree, model.index_for_path("activation", Column.AUTO))  # auto off
    hands.click_cell(tree, model.index_for_path("activation"))
    add("+ Add", "boolean", "use_bn")
    add("+ Add", "string", "tag")
    default("tag", "baseline")
    add("+ Add", "group", "first_dense")
    add("+ Add", "number", "neurons")
    integer("first_dense.neurons")
    number_range("first_dense.neurons", "randint", "32", "256")
    default("first_dense.neurons", "64")
    hands.click_cell(tree, model.index_for_path("first_dense"))
    add("Add sibling", "choice of groups", "optimizer")
    for old, new in (("a", "sgd"), ("b", "adam")):
        cell(f"optimizer.{old}", Column.NAME)
        hands.type(new)
        enter()
    for branch, lr_range, lr_default, other in (
            ("sgd", ("1e-3", None), "0.1", "momentum"),
            ("adam", ("1e-5", "1e-2"), "1e-3", "beta1")):
        hands.click_cell(tree, model.index_for_path(f"optimizer.{branch}"))
        add("+ Add", "number", "lr")
        number_range(f"optimizer.{branch}.lr", "loguniform", *lr_range)
        default(f"optimizer.{branch}.lr", lr_default)
        add("+ Add", "number", other)
        if other == "momentum":
            number_range("optimizer.sgd.momentum", None, None, "0.99")
        else:
            number_range("optimizer.adam.beta1", "fixed")
        default(f"optimizer.{branch}.{other}", "0.9")
    default("optimizer", "adam")


def test_the_readme_space_before(qtbot: QtBot) -> None:
    editor = SpaceEditor()
    qtbot.addWidget(editor)
    editor.resize(1400, 900)
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    qtbot.waitUntil(editor.isActiveWindow)
    hands = Hands(qtbot)
    build_before(qtbot, editor, hands)
    built, wanted = space_to_dict(editor.space())["space"], readme_space()["space"]
    for a, b in zip(built, wanted, strict=True):
        assert a == b
    assert len(built) == len(wanted)
    print("EVENTS", hands.events)
