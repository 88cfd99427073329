"""File → Export: trials as CSV or JSON, and the best trial's ``params.json``.

Every export asks for a file (unless given one), then reads and writes on a worker
thread through the run control's :class:`~app.views.tasks.TaskRunner`: one long
action at a time, a progress dialog when it lasts, failures said in a message box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.application.exporting import ExportFormat, best_trial, write_best_params
from app.application.workspace import Workspace
from app.engine.records import TrialRecord
from app.views.tasks import TaskRunner

FILTERS = {ExportFormat.CSV: "CSV (*.csv)", ExportFormat.JSON: "JSON (*.json)"}


class ExportActions(QObject):
    """The export actions over ``workspace`` for the experiment ``current()`` names.

    Args:
        workspace: the GUI's controller.
        tasks: the window's task runner (shared with Start, Restart…).
        parent: the window dialogs and messages belong to.
        current: the selected experiment's id, or None.
        held: the selected experiment's trials as the window holds them (no I/O),
            to refuse a best-params export at once when there is no best trial.

    Signals:
        message(str): a short status-bar message (what was written where).
    """

    message = Signal(str)

    def __init__(self, workspace: Workspace, tasks: TaskRunner, parent: QWidget,
                 current: Callable[[], int | None],
                 held: Callable[[], Sequence[TrialRecord]]) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.tasks = tasks
        self._parent = parent
        self._current = current
        self._held = held

    def _target(self, title: str, suggested: str, file_filter: str,
                path: Path | None) -> Path | None:
        if path is not None:
            return path
        chosen, _ = QFileDialog.getSaveFileName(self._parent, title, suggested, file_filter)
        return Path(chosen) if chosen else None

    @Slot()
    def export_csv(self) -> bool:
        """Trials as CSV (asks for the file)."""
        return self.export_trials(ExportFormat.CSV)

    @Slot()
    def export_json(self) -> bool:
        """Trials as JSON (asks for the file)."""
        return self.export_trials(ExportFormat.JSON)

    def export_trials(self, fmt: ExportFormat, path: Path | None = None) -> bool:
        """Write the selected experiment's trials as ``fmt``, off the GUI thread.

        Returns:
            Whether the export started (False: nothing selected, busy, or cancelled).
        """
        experiment_id = self._current()
        if experiment_id is None or self.tasks.busy:
            return False
        target = self._target("Export trials", f"trials.{fmt.value}", FILTERS[fmt], path)
        if target is None:
            return False
        return self.tasks.run(
            "export", f"Exporting to {target.name}…",
            lambda progress: self.workspace.export(experiment_id, target, fmt.value,
                                                 progress=progress),
            lambda count: self.message.emit(f"exported {count} trials to {target}"))

    @Slot()
    def export_best_params(self, path: Path | None = None) -> bool:
        """Write the best completed trial's ``params.json`` (the file a trial receives),
        off the GUI thread. Says so, without asking for a file, when no trial has
        completed with a KPI yet.

        Returns:
            Whether the export started.
        """
        experiment_id = self._current()
        if experiment_id is None or self.tasks.busy:
            return False
        goal = self.workspace.config(experiment_id).kpi.goal
        try:
            best_trial(self._held(), goal)
        except ValueError as exc:
            QMessageBox.information(self._parent, "Export best params.json", str(exc))
            return False
        target = self._target("Export the best trial's params.json", "params.json",
                              FILTERS[ExportFormat.JSON], path)
        if target is None:
            return False

        def work(progress: Callable[[int, int], None]) -> TrialRecord:
            progress(0, 1)
            trial = write_best_params(self.workspace.trials(experiment_id), goal, target)
            progress(1, 1)
            return trial

        return self.tasks.run(
            "export", f"Writing {target.name}…", work,
            lambda trial: self.message.emit(
                f"wrote the params of trial {trial.number} (KPI {trial.kpi:.6g}) to {target}"))
