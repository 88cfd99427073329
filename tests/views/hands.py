"""A person's hands on real widgets: QTest key and mouse events, counted.

One key press is one event, one mouse click is one event, a double click is two.
Keys go to the widget that has the keyboard focus, as a keyboard's would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.engine.docio import parse_text
from app.engine.space import space_from_dict, space_to_dict
from app.views.space_editor import SpaceEditor

ROOT = Path(__file__).resolve().parents[2]
Key = Qt.Key
LEFT = Qt.MouseButton.LeftButton


def readme_space() -> dict[str, Any]:
    """The example space of the README (the YAML block under "The search space"), in
    its canonical form (``space_to_dict``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(version: 1\nspace:\n.*?)```", text, re.DOTALL)
    assert match, "the README's example space is gone"
    return space_to_dict(space_from_dict(parse_text(match.group(1), "README.md")))


class Hands:
    """Sends real input events and counts them (``events``)."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot
        self.events = 0
        self.typed = 0
        """Of the events, the characters typed (names and values themselves)."""

    def focus(self) -> QWidget:
        widget = QApplication.focusWidget()
        assert widget is not None, "nothing has the keyboard focus"
        return widget

    def key(self, key: Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
            ) -> None:
        """Press one key (with ``modifier``) where the focus is."""
        QTest.keyClick(self.focus(), key, modifier)
        self.events += 1

    def type(self, text: str) -> None:
        """Type ``text`` where the focus is, one key per character."""
        for char in text:  # each to where the focus is then, as a keyboard sends it
            QTest.keyClicks(self.focus(), char)
            self.events += 1
            self.typed += 1

    def click(self, widget: QWidget, pos: QPoint | None = None) -> None:
        """Click ``widget`` (its middle, or ``pos``)."""
        QTest.mouseClick(widget, LEFT, Qt.KeyboardModifier.NoModifier,
                         pos if pos is not None else widget.rect().center())
        self.events += 1

    def double_click(self, widget: QWidget, pos: QPoint) -> None:
        """Two clicks at ``pos``, the second one a double click."""
        QTest.mousePress(widget, LEFT, Qt.KeyboardModifier.NoModifier, pos)
        QTest.mouseRelease(widget, LEFT, Qt.KeyboardModifier.NoModifier, pos)
        QTest.mouseDClick(widget, LEFT, Qt.KeyboardModifier.NoModifier, pos)
        self.events += 2

    def click_cell(self, tree: QTreeView, index: QModelIndex) -> None:
        """Click a cell of ``tree``."""
        self.click(tree.viewport(), tree.visualRect(index).center())

    def click_check(self, tree: QTreeView, index: QModelIndex) -> None:
        """Click the check box of a cell of ``tree``."""
        option = QStyleOptionViewItem()
        option.rect = tree.visualRect(index)
        delegate = tree.itemDelegateForIndex(index)
        assert isinstance(delegate, QStyledItemDelegate)
        delegate.initStyleOption(option, index)
        box = tree.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator,
                                          option, tree)
        self.click(tree.viewport(), box.center())

    def double_click_cell(self, tree: QTreeView, index: QModelIndex) -> QWidget:
        """Double-click a cell of ``tree``; returns the cell editor that opens."""
        tree.scrollTo(index)
        self.double_click(tree.viewport(), tree.visualRect(index).center())
        self.qtbot.waitUntil(lambda: tree.indexWidget(index) is not None, timeout=2000)
        return tree.indexWidget(index)

    def pick_from_menu(self, opener: Callable[[], None], label: str) -> None:
        """Do ``opener`` (a click that pops up a menu), then pick ``label`` in the menu.

        The pick is one click. On the offscreen platform a popup takes the window's
        activation and keeps it when it closes, which closes any cell editor the
        picked action opens; so the menu is closed first, the window given back its
        activation (as a window manager does), and then the action triggered.
        """
        chosen: list[QAction] = []

        def choose() -> None:
            menu = QApplication.activePopupWidget()
            if not isinstance(menu, QMenu) or not menu.isVisible():
                QTimer.singleShot(5, choose)
                return
            action = next((a for a in menu.actions() if a.text() == label), None)
            assert action is not None, f"no {label!r} in the menu"
            assert action.isEnabled(), f"{label!r} is disabled"
            self.events += 1
            chosen.append(action)
            menu.close()

        window = QApplication.activeWindow()
        QTimer.singleShot(0, choose)
        opener()
        self.qtbot.waitUntil(lambda: bool(chosen), timeout=2000)
        self.reactivate(window)
        chosen[0].trigger()

    def reactivate(self, window: QWidget | None) -> None:
        """Give ``window`` back the activation a closed popup took (a window manager
        does it; the offscreen platform does not)."""
        if window is not None and QApplication.activeWindow() is not window:
            window.activateWindow()
            self.qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)

    def pick_from_combo(self, combo: QComboBox, text: str) -> None:
        """Click ``combo`` open, then click the item ``text`` in its popup."""
        window = QApplication.activeWindow()
        self.click(combo)
        view = combo.view()
        self.qtbot.waitUntil(view.isVisible, timeout=2000)
        row = combo.findText(text)
        assert row >= 0, f"no {text!r} in the combo"
        index = view.model().index(row, 0)
        view.scrollTo(index)
        QTest.mouseMove(view.viewport(), view.visualRect(index).center())
        self.click(view.viewport(), view.visualRect(index).center())
        self.qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
        self.reactivate(window)

    def replace_text(self, widget: QWidget, text: str) -> None:
        """Click into a text field, select all (Ctrl+A), type ``text``."""
        self.click(widget)
        self.key(Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        self.type(text)


def active_space_editor(qtbot: QtBot) -> SpaceEditor:
    """A space editor shown, exposed and active, as the keyboard tests type into it."""
    widget = SpaceEditor()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    return widget
