"""Colours of trial states, shared by the grid, its legend and the table."""

from __future__ import annotations

from PySide6.QtGui import QColor

from app.engine.trial import TrialState

STATE_COLOURS: dict[TrialState, str] = {
    TrialState.CREATED: "#b0bec5",
    TrialState.QUEUED: "#b0bec5",
    TrialState.RUNNING: "#90caf9",
    TrialState.COMPLETED: "#2e7d32",
    TrialState.FAILED: "#c62828",
    TrialState.STOPPED: "#795548",
    TrialState.PRUNED: "#f9a825",
    TrialState.LOST: "#6a1b9a",
}
"""Base colour of each state; a completed tile is shaded by its KPI rank."""

PROGRESS_COLOUR = "#1565c0"
"""The fill of a running tile, as wide as its progress."""

WORST_COMPLETED = "#c8e6c9"
"""What the worst completed trial fades to (the best one is ``STATE_COLOURS[COMPLETED]``)."""

LEGEND_STATES: tuple[TrialState, ...] = (
    TrialState.QUEUED, TrialState.RUNNING, TrialState.COMPLETED, TrialState.PRUNED,
    TrialState.STOPPED, TrialState.FAILED, TrialState.LOST,
)
"""The states the legend lists (CREATED is drawn like QUEUED and counted with it)."""


def state_colour(state: TrialState) -> QColor:
    """The base colour of a state."""
    return QColor(STATE_COLOURS[state])


def completed_colour(rank: float) -> QColor:
    """A completed trial's colour: ``rank`` 1.0 is the best (strongest green), 0.0 the worst.

    Raises:
        ValueError: when rank is outside [0, 1].
    """
    if not 0.0 <= rank <= 1.0:
        raise ValueError(f"rank must be within [0, 1], got {rank}")
    best, worst = QColor(STATE_COLOURS[TrialState.COMPLETED]), QColor(WORST_COMPLETED)
    return QColor(
        round(worst.red() + (best.red() - worst.red()) * rank),
        round(worst.green() + (best.green() - worst.green()) * rank),
        round(worst.blue() + (best.blue() - worst.blue()) * rank),
    )


def text_colour(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("#111111") if luminance > 150 else QColor("#ffffff")
