"""Questions with named answers (the window's Save / Discard / Cancel and Quit
prompts), and word of what happened in the background (:func:`tell`).

Each question is a real :class:`QMessageBox` with one button per answer, so a person
(or a test clicking the button by its text) picks an answer, never a bare Yes or No.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QPushButton, QWidget

A = TypeVar("A", bound=Enum)
Role = QMessageBox.ButtonRole


class Unsaved(Enum):
    """What to do with a space edited and not saved."""

    SAVE = "Save"
    DISCARD = "Discard"
    CANCEL = "Cancel"


class Quitting(Enum):
    """What to do with the runs still going when the window closes."""

    STOP = "Stop trials and quit"
    LEAVE = "Leave them running and quit"
    CANCEL = "Cancel"


_ROLES = {Unsaved.SAVE: Role.AcceptRole, Unsaved.DISCARD: Role.DestructiveRole,
          Unsaved.CANCEL: Role.RejectRole, Quitting.STOP: Role.DestructiveRole,
          Quitting.LEAVE: Role.AcceptRole, Quitting.CANCEL: Role.RejectRole}


def ask(parent: QWidget, title: str, text: str, answers: Sequence[A], *,
        informative: str = "") -> A:
    """Ask ``text`` with one button per answer (its value is the button's text); the
    last answer is the default and what closing the box (Escape) means."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton,
                      parent)
    box.setInformativeText(informative)
    buttons: dict[QAbstractButton, A] = {}
    for answer in answers:
        button = box.addButton(str(answer.value), _ROLES.get(answer, Role.ActionRole))
        buttons[button] = answer
    default = next(b for b, a in buttons.items() if a is answers[-1])
    assert isinstance(default, QPushButton)
    box.setDefaultButton(default)
    box.setEscapeButton(default)
    box.exec()
    return buttons.get(box.clickedButton(), answers[-1])


def ask_unsaved(parent: QWidget, name: str, *, can_save: bool) -> Unsaved:
    """Save, discard or keep editing the unsaved space of experiment ``name``
    (no Save while its run goes on: the edits then wait for its next Restart)."""
    if can_save:
        return ask(parent, "Unsaved space", f"The space of {name!r} has unsaved edits.",
                   [Unsaved.SAVE, Unsaved.DISCARD, Unsaved.CANCEL],
                   informative="Save them, discard them, or cancel to go on editing.")
    return ask(parent, "Unsaved space",
               f"The space of {name!r} has edits for its next Restart.",
               [Unsaved.DISCARD, Unsaved.CANCEL],
               informative="They cannot be saved while it runs. Discard them, or cancel "
                           "and Restart it to run with them.")


def tell(parent: QWidget, title: str, text: str,
         icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> QMessageBox:
    """Say ``text`` about something that happened in the background (a task's failure):
    a window-modal box that returns at once and is deleted when closed.

    Never a static ``QMessageBox.warning`` there: its box lives on the stack of a nested
    event loop, and that loop, started from a timer's handler, runs whatever deletions
    are pending (a ``deleteLater`` made outside any loop runs in the first one that
    turns). Deleting the box's parent then deletes the stack box too, and the process
    dies of a double free (CI, a task that failed after its window was closed).
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box
