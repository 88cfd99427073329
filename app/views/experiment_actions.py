"""New, settings, duplicate, rename, delete and save-space of the selected experiment.

:class:`ExperimentActions` holds the window's experiment-editing slots (the menu and
the buttons under the list call them); each goes through the workspace and reloads
the list, and says plainly in a message box why an edit was refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.application.servers import Servers
from app.views.experiment_dialog import ExperimentDialog

if TYPE_CHECKING:
    from app.views.main_window import MainWindow


class ExperimentActions(QObject):
    """The experiment-editing slots of ``window``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def server_names(self) -> list[str]:
        """Every saved server and cluster, for the hosts of the dialog."""
        return Servers(self._window.workspace.store, self._window.keeper).host_names()

    @Slot()
    def save(self) -> None:
        """Store the edited space (Ctrl+S); Start also stores it."""
        window = self._window
        if window.current_id is not None and window.guard(
                lambda: self.save_space(window.current_id or 0)):
            window.panels.space.undo_stack.setClean()
            window.statusBar().showMessage("space saved", 3000)

    def save_space(self, experiment_id: int) -> None:
        """Store the space being edited when it differs from the stored one; either way
        it is then saved (no unsaved mark)."""
        workspace = self._window.workspace
        space = self._window.panels.current_space()
        config = workspace.config(experiment_id)
        if space is not None and space != config.space:
            workspace.update(experiment_id, replace(config, space=space))
        self._window.panels.space.undo_stack.setClean()

    @Slot()
    def new_experiment(self) -> None:
        """The new-optimisation dialog, then the new experiment selected."""
        dialog = ExperimentDialog(self._window, servers=self.server_names())
        if dialog.exec():
            self.create_experiment(dialog)

    def create_experiment(self, dialog: ExperimentDialog) -> None:
        """Store the experiment an accepted dialog describes and select it."""
        window = self._window
        if window.guard(lambda: window.workspace.create(dialog.config())):
            window.reload_experiments(select_name=dialog.config().name)

    @Slot()
    def edit_settings(self) -> None:
        """Edit the selected experiment's settings (not while it runs)."""
        window = self._window
        if window.current_id is None:
            return
        experiment_id = window.current_id
        dialog = ExperimentDialog(window, config=window.workspace.config(experiment_id),
                                  servers=self.server_names(),
                                  space=window.panels.current_space(), title="Settings")
        if dialog.exec() and window.guard(lambda: window.workspace.update(experiment_id,
                                                                       dialog.config())):
            window.reload_experiments()

    @Slot()
    def duplicate(self) -> None:
        """Copy the selected experiment under a new name."""
        window = self._window
        if window.current_id is None:
            return
        name, ok = QInputDialog.getText(window, "Duplicate", "Name of the copy:")
        if ok and window.guard(lambda: window.workspace.duplicate(window.current_id or 0, name)):
            window.reload_experiments(select_name=name)

    @Slot()
    def rename(self) -> None:
        """Rename the selected experiment."""
        window = self._window
        if window.current_id is None:
            return
        name, ok = QInputDialog.getText(window, "Rename", "New name:")
        if ok and window.guard(lambda: window.workspace.rename(window.current_id or 0, name)):
            window.reload_experiments()

    @Slot()
    def delete(self) -> None:
        """Delete the selected experiment after asking."""
        window = self._window
        if window.current_id is None:
            return
        action = window.actions_by_name["delete"]
        if not action.isEnabled():  # running: the action says why, and nothing is asked
            window.statusBar().showMessage(action.toolTip(), 5000)
            return
        name = window.workspace.experiment(window.current_id).name
        answer = QMessageBox.question(window, "Delete",
                                      f"Delete {name!r} with all its trials?")
        if answer == QMessageBox.StandardButton.Yes and window.guard(
                lambda: window.workspace.delete(window.current_id or 0)):
            window.current_id = None
            window.reload_experiments()
