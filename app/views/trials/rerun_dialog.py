""""Re-run with these params": what will happen, and whether early stopping may prune it.

A user who runs a trial's params again means to see that trial to its end, so the
default is :attr:`~app.engine.trial.EarlyStopping.EXEMPT`; under ASHA, Hyperband or
median stopping the dialog offers the other way too (the scheduler decides, as for
any trial). The choice is stored with the new trial by the engine.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.records import TrialRecord
from app.engine.schedulers import SchedulerConfig, SchedulerName
from app.engine.trial import EarlyStopping

SCHEDULER_LABELS = {SchedulerName.ASHA: "ASHA", SchedulerName.HYPERBAND: "Hyperband",
                    SchedulerName.MEDIAN: "median stopping"}


class RerunDialog(QDialog):
    """Says what a re-run of ``record`` does; under early stopping, asks how it runs.

    :meth:`choice` is the answer once accepted.
    """

    def __init__(self, record: TrialRecord, scheduler: SchedulerConfig | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Re-run trial {record.number}")
        scheduler = scheduler or SchedulerConfig()
        label = SCHEDULER_LABELS.get(scheduler.name)
        self.explanation = QLabel(
            f"Trial {record.number}'s params run again as a new trial, on top of max "
            "trials, before the next suggestion. An experiment that is not running starts "
            "for it and goes on with its search while budget is left.")
        self.explanation.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        self.to_the_end = QRadioButton(f"Run it to the end ({label} does not prune it)")
        self.under_scheduler = QRadioButton(
            f"Under {label}, like any trial (it may be pruned from step "
            f"{scheduler.grace_period} on)")
        self.note = QLabel("Max epochs and max time per trial apply either way.")
        self.to_the_end.setChecked(True)
        self._group = QButtonGroup(self)
        for button in (self.to_the_end, self.under_scheduler):
            self._group.addButton(button)
        for widget in (self.to_the_end, self.under_scheduler, self.note):
            widget.setVisible(label is not None)
            layout.addWidget(widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run_button = buttons.addButton("Re-run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def choice(self) -> EarlyStopping:
        """Whether the re-run is exempt from early stopping (the default) or not."""
        return (EarlyStopping.SCHEDULED if self.under_scheduler.isChecked()
                else EarlyStopping.EXEMPT)
