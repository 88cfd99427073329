"""Asking for an experiment's name (Duplicate, Rename): a refusal keeps the dialog open.

The name is checked as it is typed (the one rule, :func:`app.engine.names.name_problem`,
and the names taken); OK then hands it to ``apply``, and a refusal from there (another
program took the name meanwhile) is shown under the field with the typed name kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.names import name_problem
from app.views.validation import ValidationLine

REFUSALS = (ValueError, OSError)
"""What ``apply`` may raise to refuse a name (ActionRefused is a ValueError)."""


class NameDialog(QDialog):
    """One name field, its validation line, OK and Cancel.

    Args:
        parent: the window it belongs to.
        title: the window title (``Duplicate``).
        label: the question (``Name of the copy:``).
        proposed: the name shown, selected, at first.
        taken: names already in use (refused as they are typed).
        apply: called with the name on OK; raises ValueError or OSError to refuse it,
            which keeps the dialog open with the reason.
    """

    def __init__(self, parent: QWidget | None, title: str, label: str, proposed: str,
                 taken: Collection[str], apply: Callable[[str], object]) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._taken = set(taken)
        self._apply = apply
        self.name = QLineEdit(proposed)
        self.name.selectAll()
        self.name.setMinimumWidth(360)
        self.error = ValidationLine()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(label))
        layout.addWidget(self.name)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        name = self.name.text()
        problem = name_problem(name)
        if problem is None and name in self._taken:
            problem = f"an experiment named {name!r} already exists"
        self.error.set_message(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def accept(self) -> None:
        """Apply the name; on a refusal, say why and stay open."""
        if not self.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled():
            return
        try:
            self._apply(self.name.text())
        except REFUSALS as exc:
            self.error.set_message(str(exc))
            return
        super().accept()
