"""New, open and save an experiment file, settings, duplicate, rename, delete and
save-space of the selected experiment.

:class:`ExperimentActions` holds the window's experiment-editing slots (the menu and
the buttons under the list call them); each goes through the workspace and reloads
the list, and says plainly in a message box why an edit was refused.

New starts in the code directory used last (else the home folder, never the folder
the app was started from); File → Open experiment file… shows the file's experiment
in the New dialog to create it; File → Save as experiment file… writes the selected
experiment as a file ``sweeplab run`` reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.application.definitions import open_experiment_file, save_experiment_file
from app.application.folders import home_folder, remembered_folder
from app.application.servers import Servers
from app.engine.experiment import ExperimentConfig
from app.engine.names import copy_name
from app.views.experiment_dialog import ExperimentDialog
from app.views.name_dialog import NameDialog

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

LAST_CODE_DIR = "new/last_code_dir"
"""The setting that remembers the code directory of the last experiment made."""
LAST_FILE_FOLDER = "experiment_file/last_folder"
"""The setting that remembers the folder of the last experiment file opened or saved."""
FILE_FILTER = "Experiment files (*.yaml *.yml *.json);;All files (*)"


D = TypeVar("D", bound=QDialog)


@contextmanager
def modal(dialog: D) -> Iterator[D]:
    """``dialog`` (parented to the window) for one ``exec()``, deleted after: parented,
    each dialog opened stayed, hidden, until the window closed."""
    try:
        yield dialog
    finally:
        dialog.deleteLater()


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
        settings = self._window.settings
        code_dir = remembered_folder(settings.value(LAST_CODE_DIR), home_folder())
        with modal(ExperimentDialog(self._window, servers=self.server_names(),
                                    code_dir=code_dir)) as dialog:
            if dialog.exec():
                self.create_experiment(dialog)

    def create_experiment(self, dialog: ExperimentDialog) -> bool:
        """Store the experiment an accepted dialog describes and select it."""
        window = self._window
        config = dialog.config()
        if not window.guard(lambda: window.workspace.create(config)):
            return False
        window.settings.setValue(LAST_CODE_DIR, str(config.code_dir))
        window.reload_experiments(select_name=config.name)
        return True

    def _file_folder(self, fallback: Path) -> Path:
        return remembered_folder(self._window.settings.value(LAST_FILE_FOLDER), fallback)

    @Slot()
    def open_experiment_file(self, path: Path | None = None) -> bool:
        """Read an experiment file (asked for unless given) as ``sweeplab run`` does and
        show it in the New dialog, to create it from there. A name already taken is
        replaced by a copy's name; a file with problems is refused, each one said.
        Returns whether the file was shown (False: none chosen, or refused)."""
        window = self._window
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(window, "Open experiment file",
                                                    str(self._file_folder(home_folder())),
                                                    FILE_FILTER)
            if not chosen:
                return False
            path = Path(chosen)
        try:
            config = open_experiment_file(path)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(window, "Open experiment file",
                                f"{path} cannot be used as an experiment:\n{exc}")
            return False
        window.settings.setValue(LAST_FILE_FOLDER, str(path.resolve().parent))
        names = [record.name for record in window.workspace.experiments()]
        if config.name in names:
            config = replace(config, name=copy_name(config.name, names))
        with modal(ExperimentDialog(window, config=config, servers=self.server_names(),
                                    title=f"New optimisation from {path.name}")) as dialog:
            if dialog.exec():
                self.create_experiment(dialog)
        return True

    @Slot()
    def save_experiment_file(self, path: Path | None = None) -> Path | None:
        """Write the selected experiment, with the space as it is being edited, as an
        experiment file (asked for unless given) that ``sweeplab run`` reads."""
        window = self._window
        if window.current_id is None:
            return None
        config: ExperimentConfig = window.workspace.config(window.current_id)
        space = window.panels.current_space()
        if space is not None:
            config = replace(config, space=space)
        if path is None:
            suggested = self._file_folder(config.code_dir) / "experiment.yaml"
            chosen, _ = QFileDialog.getSaveFileName(window, "Save as experiment file",
                                                    str(suggested), FILE_FILTER)
            if not chosen:
                return None
            path = Path(chosen)
        target = path
        if not window.guard(lambda: save_experiment_file(config, target)):
            return None
        window.settings.setValue(LAST_FILE_FOLDER, str(target.resolve().parent))
        window.statusBar().showMessage(
            f"saved {config.name!r} to {target}: run it with `sweeplab run {target}`", 10_000)
        return target

    @Slot()
    def edit_settings(self) -> None:
        """Edit the selected experiment's settings (not while it runs)."""
        window = self._window
        if window.current_id is None:
            return
        experiment_id = window.current_id
        with modal(ExperimentDialog(window, config=window.workspace.config(experiment_id),
                                    servers=self.server_names(),
                                    space=window.panels.current_space(),
                                    title="Settings")) as dialog:
            if dialog.exec() and window.guard(
                    lambda: window.workspace.update(experiment_id, dialog.config())):
                window.reload_experiments()

    def _names(self) -> list[str]:
        return [record.name for record in self._window.workspace.experiments()]

    @Slot()
    def duplicate(self) -> None:
        """Copy the selected experiment under a new name: ``<name> copy`` is proposed
        (:func:`~app.engine.names.copy_name`); a refused name keeps the dialog open."""
        window = self._window
        if window.current_id is None:
            return
        source = window.current_id
        names = self._names()
        with modal(NameDialog(window, "Duplicate", "Name of the copy:",
                              copy_name(window.workspace.experiment(source).name, names),
                              names, lambda name: window.workspace.duplicate(source, name))
                   ) as dialog:
            if dialog.exec():
                window.reload_experiments(select_name=dialog.name.text())

    @Slot()
    def rename(self) -> None:
        """Rename the selected experiment; a refused name keeps the dialog open."""
        window = self._window
        if window.current_id is None:
            return
        target = window.current_id
        current = window.workspace.experiment(target).name
        with modal(NameDialog(window, "Rename", "New name:", current,
                              [name for name in self._names() if name != current],
                              lambda name: name == current or window.workspace.rename(target,
                                                                                       name))
                   ) as dialog:
            if dialog.exec():
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
