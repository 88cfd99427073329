"""Editor widgets for the space tree's cells: numbers, a number's distribution, choice values."""

from __future__ import annotations

import csv
import math
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QKeyEvent, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.engine.space.nodes import Distribution
from app.views.space_editor.cells import format_number
from app.views.space_editor.fields import RANGE_TEXT_HELP, parse_range_text

NONE_TEXT = "none"
_HUGE = 1e300
_PARTIAL = ("", "-", "+", ".", "-.", "+.")
_TEXT_STARTS = "0123456789-.["


class NumberSpinBox(QDoubleSpinBox):
    """A spin box for any finite number, shown as short as it can be.

    ``scientific`` shows ``1e-04`` (and steps by factors of ten), ``integer`` shows
    and steps whole numbers, ``optional`` adds an empty value shown as ``none``.
    """

    def __init__(self, parent: QWidget | None = None, *, scientific: bool = False,
                 integer: bool = False, optional: bool = False) -> None:
        super().__init__(parent)
        self._scientific = scientific
        self._integer = integer
        self.setDecimals(323)  # never round what a person typed; the text is ours
        self.setRange(-_HUGE, _HUGE)
        self.setKeyboardTracking(False)
        self.setAccelerated(True)
        if optional:
            self.setSpecialValueText(NONE_TEXT)

    def set_mode(self, *, scientific: bool, integer: bool) -> None:
        """Switch notation and whole-number mode, keeping the value."""
        number = self.number()
        self._scientific, self._integer = scientific, integer
        self.set_number(number)

    def number(self) -> float | int | None:
        """The value as typed (an int in integer mode), None when optional and empty.

        The text is read first: a value typed and committed without leaving the field
        (Enter in the next field, the editor closed with the row) is not lost."""
        self.interpretText()
        value = self.value()
        if self.specialValueText() and value == self.minimum():
            return None
        return round(value) if self._integer else value

    def set_number(self, number: float | int | None) -> None:
        """Show ``number`` (None: empty, for an optional box)."""
        self.setValue(self.minimum() if number is None else float(number))
        self.lineEdit().setText(self.textFromValue(self.value()))

    def textFromValue(self, value: float) -> str:
        if self.specialValueText() and value == self.minimum():
            return self.specialValueText()
        return format_number(round(value) if self._integer else value, self._scientific)

    def valueFromText(self, text: str) -> float:
        text = text.strip()
        if self.specialValueText() and text in (self.specialValueText(), ""):
            return self.minimum()
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> Any:
        stripped = text.strip()
        special = self.specialValueText()
        if special and (stripped == special or (stripped and special.startswith(stripped))):
            state = QValidator.State.Acceptable if stripped == special \
                else QValidator.State.Intermediate
        elif stripped in _PARTIAL or stripped.lower().endswith(("e", "e-", "e+")):
            state = QValidator.State.Intermediate
        else:
            try:
                number = float(stripped)
            except ValueError:
                state = QValidator.State.Invalid
            else:
                whole = not self._integer or number.is_integer()
                state = QValidator.State.Acceptable if math.isfinite(number) and whole \
                    else QValidator.State.Intermediate
        return state, text, pos

    def stepBy(self, steps: int) -> None:
        number = self.number()
        if number is None:
            number = 0
        if self._scientific and number > 0:
            self.set_number(number * 10.0 ** steps)
        elif self._integer:
            self.set_number(round(number) + steps)
        else:
            unit = 10.0 ** (math.floor(math.log10(abs(number))) - 1) if number else 0.1
            self.set_number(round(number + steps * unit, 12))
        self.editingFinished.emit()


class NumberRangeEditor(QWidget):
    """A number's distribution with its parameters: min/max, or μ/σ, and a step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self._integer = False
        self._values: dict[str, float | int | None] = {}
        self.distribution = QComboBox()
        self.distribution.addItem("fixed", "")
        for dist in Distribution:
            self.distribution.addItem(dist.value, dist.value)
        self.low_label, self.high_label = QLabel("min"), QLabel("max")
        self.low = NumberSpinBox(optional=True)
        self.high = NumberSpinBox(optional=True)
        self.step = NumberSpinBox(optional=True)
        self.step.setToolTip("values are multiples of the step (hyperopt's q); none: continuous")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._fields: tuple[QWidget, ...] = (self.distribution, self.low_label, self.low,
                                             self.high_label, self.high, QLabel("step"),
                                             self.step)
        for widget in self._fields:
            layout.addWidget(widget)
        self._shown: Distribution | None = None
        self._given: dict[str, Any] = {}
        self.distribution.currentIndexChanged.connect(self._switch)
        self.setFocusProxy(self.distribution)  # typing "l" picks loguniform, Tab goes on
        # typing a digit (or - . [) instead switches to the range as one line of text
        self.text = QLineEdit()
        self.text.setPlaceholderText("1e-5..0.1 log")
        self.text.setToolTip(f"The range as text: {RANGE_TEXT_HELP}; Enter applies it")
        self.text.setMinimumWidth(220)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828;")
        self.text.textEdited.connect(lambda _: self.problem.hide())
        for extra in (self.text, self.problem):
            extra.hide()
            layout.addWidget(extra)
        self.distribution.installEventFilter(self)
        self.distribution.setToolTip("a letter picks the distribution (l: loguniform, "
                                     "f: fixed...); a digit types the range as text "
                                     "(1e-5..0.1 log)")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.distribution and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.text()
                and event.text()[0] in _TEXT_STARTS and not self.text.isVisible()):
            self.start_text(event.text())
            return True
        return super().eventFilter(watched, event)

    def start_text(self, typed: str = "") -> None:
        """Show the range as one line of text (the fields hide), holding ``typed``."""
        for widget in self._fields:
            widget.hide()
        self.text.show()
        self.text.setText(typed)
        self.setFocusProxy(self.text)
        self.text.setFocus()

    def typed_text(self) -> str | None:
        """The range typed as text, None while the fields are used."""
        return self.text.text() if self.text.isVisible() else None

    def text_problem(self) -> str:
        """Why the typed range cannot be read ("" when it can, or none is typed); shown
        beside it."""
        typed = self.typed_text()
        if typed is None:
            return ""
        try:
            parse_range_text(typed, "range")
        except ValueError as exc:
            self.problem.setText(str(exc).removeprefix("range: "))
            self.problem.show()
            return str(exc)
        return ""

    def set_fields(self, fields: dict[str, Any], integer: bool) -> None:
        """Show a number's ``distribution``, ``min``, ``max``, ``mu``, ``sigma`` and ``step``."""
        self._integer = integer
        self._values = {k: fields.get(k) for k in ("min", "max", "mu", "sigma")}
        self._shown = _distribution(fields.get("distribution"))
        self.distribution.blockSignals(True)
        self.distribution.setCurrentIndex(
            max(0, self.distribution.findData(self._shown.value if self._shown else "")))
        self.distribution.blockSignals(False)
        self._show(self._shown)
        self.step.set_number(fields.get("step"))
        self._given = self.fields()

    def field_steps(self) -> list[dict[str, Any]]:
        """What changed since ``set_fields``, as one change per field (each its own
        undo step): the distribution first, then each bound and the step."""
        now = self.fields()
        steps = [{"distribution": now["distribution"]}] \
            if now["distribution"] != self._given.get("distribution") else []
        # an empty box that was empty asks for nothing: the model fills what it needs
        steps += [{key: now[key]} for key in ("min", "max", "mu", "sigma", "step")
                  if key in now and now[key] != self._given.get(key)
                  and not (now[key] is None and self._given.get(key) is None)]
        return steps

    def fields(self) -> dict[str, Any]:
        """The distribution and the parameters it uses (the others are left as they are)."""
        self._keep()
        dist = _distribution(self.distribution.currentData())
        stepped = dist is not None and dist is not Distribution.RANDINT
        out: dict[str, Any] = {"distribution": dist,
                               "step": self.step.number() if stepped else None}
        keys = ("mu", "sigma") if dist is not None and dist.is_gaussian else ("min", "max")
        if dist is not None:
            out.update({key: self._values.get(key) for key in keys})
        return out

    def _keys(self, dist: Distribution | None) -> tuple[str, str]:
        return ("mu", "sigma") if dist is not None and dist.is_gaussian else ("min", "max")

    def _keep(self) -> None:
        low, high = self._keys(self._shown)
        self._values[low], self._values[high] = self.low.number(), self.high.number()

    def _switch(self) -> None:
        self._keep()
        self._shown = _distribution(self.distribution.currentData())
        low, high = self._values.get("min"), self._values.get("max")
        if (self._shown is not None and self._shown.is_log and low is not None and low <= 0
                and high is not None and high > 0):
            self._values["min"] = high / 1000  # a log scale cannot reach zero
        self._show(self._shown)

    def _show(self, dist: Distribution | None) -> None:
        low, high = self._keys(dist)
        self.low_label.setText("μ" if low == "mu" else "min")
        self.high_label.setText("σ" if high == "sigma" else "max")
        scientific = dist is not None and dist.is_log and not self._integer
        integer = (self._integer or dist is Distribution.RANDINT) and low == "min"
        for box in (self.low, self.high, self.step):
            box.set_mode(scientific=scientific, integer=integer and box is not self.step)
        self.low.set_number(self._values.get(low))
        self.high.set_number(self._values.get(high))
        for widget in (self.low, self.high, self.low_label, self.high_label):
            widget.setEnabled(dist is not None)
        # randint takes every whole number, a fixed number nothing: no step for them
        self.step.setEnabled(dist is not None and dist is not Distribution.RANDINT)


def _distribution(value: object) -> Distribution | None:
    """A distribution from itself or its name (Qt hands str-based enums back as str)."""
    return Distribution(value) if value else None


class ValuesEditor(QLineEdit):
    """The values of a choice as one line, separated by commas: ``16, 32, 64``.

    A value holding a comma or a quote, or starting or ending with a space, is
    written in double quotes (``"a, b"``; a quote inside is doubled). As a line edit
    it commits on Enter, Tab and when the focus leaves it, like every other cell.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip('values separated by commas; a value holding a comma goes in '
                        'double quotes: "a, b"')

    def set_values(self, values: list[Any]) -> None:
        """Show the values (numbers and texts alike, as text)."""
        self.setText(", ".join(_quoted(format_number(v) if isinstance(v, int | float)
                                       else str(v)) for v in values))

    def values(self) -> list[str]:
        """The values as typed, in order, empty ones left out."""
        rows = list(csv.reader([self.text()], skipinitialspace=True))
        return [text for text in (v.strip() for v in (rows[0] if rows else [])) if text]

    def add_value(self, text: str) -> None:
        """Append a value."""
        self.set_values([*self.values(), text])


def _quoted(text: str) -> str:
    if any(c in text for c in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


class PickCombo(QComboBox):
    """A combo box that says when a value was picked, and how.

    Events:
        picked(bool): the user chose an item; True when from the popup (a mouse
            pick), False from the keyboard (arrow keys, typing its first letters).
    """

    picked = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._popup = False
        self.activated.connect(self._activated)

    def showPopup(self) -> None:
        self._popup = True
        super().showPopup()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.view().isVisible():
            self._popup = False
        super().keyPressEvent(event)

    def _activated(self, _row: int) -> None:
        popup, self._popup = self._popup, False
        self.picked.emit(popup)
