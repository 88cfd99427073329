"""File → Export: trials as CSV or JSON, and the best trial's ``params.json``.

Every export asks for a file (unless given one), in the folder of the last export or
else the user's Documents folder, then reads and writes on a worker thread through the
run control's :class:`~app.views.tasks.TaskRunner`: one long action at a time, a
progress dialog when it lasts, failures said in a message box. A written file is
confirmed in the status bar with its path and a "Show folder" button.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QPushButton, QWidget

from app.application.exporting import ExportFormat, best_trial, write_best_params
from app.application.folders import documents_folder, remembered_folder
from app.application.workspace import Workspace
from app.engine.records import TrialRecord
from app.views.tasks import TaskRunner

FILTERS = {ExportFormat.CSV: "CSV (*.csv)", ExportFormat.JSON: "JSON (*.json)"}
LAST_EXPORT_FOLDER = "export/last_folder"
"""The setting that remembers the folder of the last export."""
CONFIRM_MS = 15_000
"""How long the status bar confirms an export (with its "Show folder" button)."""


class ExportActions(QObject):
    """The export actions over ``workspace`` for the experiment ``current()`` names.

    Args:
        workspace: the GUI's controller.
        tasks: the window's task runner (shared with Start, Restart…).
        parent: the window dialogs and messages belong to.
        current: the selected experiment's id, or None.
        held: the selected experiment's trials as the window holds them (no I/O),
            to refuse a best-params export at once when there is no best trial.
        settings: where the last export folder is remembered (default: the app's).

    Signals:
        message(str): what was written where, when ``parent`` has no status bar (a
            main window's status bar shows it with a "Show folder" button).
    """

    message = Signal(str)

    def __init__(self, workspace: Workspace, tasks: TaskRunner, parent: QWidget,
                 current: Callable[[], int | None],
                 held: Callable[[], Sequence[TrialRecord]],
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.tasks = tasks
        self._parent = parent
        self._current = current
        self._held = held
        self._settings = settings or QSettings()
        self.last_written: Path | None = None
        """The file the last export wrote (what "Show folder" opens the folder of)."""
        self.show_folder: QPushButton | None = None
        """The status bar's "Show folder" button, made at the first export."""
        self._confirmation = ""

    def default_folder(self) -> Path:
        """Where the save dialog opens: the last export's folder, else Documents."""
        return remembered_folder(self._settings.value(LAST_EXPORT_FOLDER), documents_folder())

    def _target(self, title: str, suggested: str, file_filter: str,
                path: Path | None) -> Path | None:
        if path is not None:
            return path
        chosen, _ = QFileDialog.getSaveFileName(self._parent, title,
                                                str(self.default_folder() / suggested),
                                                file_filter)
        return Path(chosen) if chosen else None

    def _written(self, text: str, target: Path) -> None:
        """Remember the folder and confirm: the path in the status bar, with a button
        that opens the folder (the message alone where there is no status bar)."""
        self.last_written = target
        self._settings.setValue(LAST_EXPORT_FOLDER, str(target.resolve().parent))
        if not isinstance(self._parent, QMainWindow):
            self.message.emit(text)
            return
        bar = self._parent.statusBar()
        if self.show_folder is None:
            self.show_folder = QPushButton("Show folder")
            self.show_folder.setToolTip("open the folder the export was written to")
            self.show_folder.setFlat(True)
            self.show_folder.clicked.connect(self.open_folder)
            bar.addPermanentWidget(self.show_folder)  # a plain one is hidden by messages
            bar.messageChanged.connect(self._message_changed)
        self._confirmation = text
        bar.showMessage(text, CONFIRM_MS)
        self.show_folder.show()

    @Slot(str)
    def _message_changed(self, text: str) -> None:
        if self.show_folder is not None:
            self.show_folder.setVisible(bool(text) and text == self._confirmation)

    @Slot()
    def open_folder(self) -> bool:
        """Open the last export's folder in the desktop's file manager."""
        if self.last_written is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_written.parent)))

    @Slot()
    def export_csv(self, path: Path | None = None) -> bool:
        """Trials as CSV (asks for the file unless given ``path``)."""
        return self.export_trials(ExportFormat.CSV, path)

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
        workspace = self.workspace  # the task's thread holds no Qt object (bridge.py)
        return self.tasks.run(
            "export", f"Exporting to {target.name}…",
            lambda progress: workspace.export(experiment_id, target, fmt.value,
                                              progress=progress),
            lambda count: self._written(f"exported {count} trials to {target}", target))

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

        workspace = self.workspace

        def work(progress: Callable[[int, int], None]) -> TrialRecord:
            progress(0, 1)
            trial = write_best_params(workspace.trials(experiment_id), goal, target)
            progress(1, 1)
            return trial

        return self.tasks.run(
            "export", f"Writing {target.name}…", work,
            lambda trial: self._written(
                f"wrote the params of trial {trial.number} (KPI {trial.kpi:.6g}) to {target}",
                target))
