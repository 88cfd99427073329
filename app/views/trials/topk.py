"""The "Top K" chooser shared by the Trials table and the Charts panel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

TOP_K_CHOICES: tuple[int | None, ...] = (None, 5, 10, 20, 50)
"""What the chooser offers: every trial, or the K best."""


class TopKBox(QComboBox):
    """A combo box of "all trials", "top 5", … (see :data:`TOP_K_CHOICES`).

    Signals:
        topKChanged(object k): the K chosen, or None for every trial.
    """

    topKChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for k in TOP_K_CHOICES:
            self.addItem("all trials" if k is None else f"top {k}", k)
        self.setToolTip("Show only the K completed trials with the best KPI "
                        "(lowest or highest, as the experiment's goal says)")
        self.currentIndexChanged.connect(lambda _i: self.topKChanged.emit(self.top_k()))

    def top_k(self) -> int | None:
        """The K chosen (None: all trials)."""
        k = self.currentData()
        return None if k is None else int(k)

    def set_top_k(self, k: int | None) -> None:
        """Choose ``k`` (emits :attr:`topKChanged` when it changes).

        Raises:
            ValueError: when ``k`` is not one of :data:`TOP_K_CHOICES`.
        """
        if k not in TOP_K_CHOICES:
            raise ValueError(f"top K must be one of {TOP_K_CHOICES}, got {k!r}")
        self.setCurrentIndex(TOP_K_CHOICES.index(k))
