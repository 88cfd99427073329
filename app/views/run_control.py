"""Start, stop, pause, resume, restart, stop one trial, re-run one trial (exports: see
:mod:`app.views.exports`).

:class:`RunControl` holds the toolbar's run actions for the main window. Actions that
pack the code or write files go through :class:`~app.views.tasks.TaskRunner`, so the
window never freezes on a large code directory; the quick ones call the workspace
directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from app.application.workspace import Workspace
from app.engine.space.nodes import Space
from app.engine.trial import EarlyStopping
from app.views.tasks import EXPECTED, TaskRunner


class RunControl(QObject):
    """The run actions over ``workspace`` for the experiment ``current()`` names.

    Args:
        workspace: the GUI's controller.
        parent: the window dialogs and messages belong to.
        current: the selected experiment's id, or None.
        save_space: stores an edited space before a start (may raise ValueError).
        space_for_restart: the space edited while the experiment runs, which Restart
            applies once the run has stopped; None when there is none.

    Signals:
        changed(): a run began or an action ended; the window refreshes its actions.
        message(str): a short status-bar message.
        stopRequested(object trial_id_or_None): the workspace took a stop of one trial
            (or, None, of the selected experiment's run); the live view shows
            "stopping…" until it has ended.
    """

    changed = Signal()
    message = Signal(str)
    stopRequested = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget, current: Callable[[], int | None],
                 save_space: Callable[[int], None],
                 space_for_restart: Callable[[], Space | None] = lambda: None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._parent = parent
        self._current = current
        self._save_space = save_space
        self._space_for_restart = space_for_restart
        self.tasks = TaskRunner(parent)
        self.tasks.finished.connect(lambda _name, _ok: self.changed.emit())

    def _guard(self, action: Callable[[], Any]) -> bool:
        try:
            action()
        except EXPECTED as exc:
            QMessageBox.warning(self._parent, "Sweeplab", str(exc))
            return False
        return True

    def _packing(self, name: str, work: Callable[[int, Callable[[int, int], None]], Any],
                 on_done: Callable[[Any], None] | None = None, *, save: bool = True) -> bool:
        """Save the space (unless ``save`` is False), then run
        ``work(experiment_id, progress)`` as a task."""
        experiment_id = self._current()
        if experiment_id is None or self.tasks.busy:
            return False
        if save and not self._guard(lambda: self._save_space(experiment_id)):
            return False
        started = self.tasks.run(name, "Packing the code…",
                                 lambda progress: work(experiment_id, progress), on_done)
        self.changed.emit()
        return started

    @Slot()
    def start(self) -> bool:
        """Start (or continue) the selected experiment; the code is packed off the GUI thread."""
        workspace = self.workspace  # the task's thread holds no Qt object (bridge.py)
        return self._packing("start", lambda eid, progress: workspace.start(
            eid, progress=progress))

    @Slot()
    def resume(self) -> None:
        """Continue after a pause, a stop or a crash."""
        experiment_id = self._current()
        if experiment_id is None:
            return
        if self.workspace.is_running(experiment_id):
            self._guard(lambda: self.workspace.resume(experiment_id))
            self.changed.emit()
        else:
            self.start()

    @Slot()
    def restart(self) -> bool:
        """Drop every trial, take a new snapshot, start afresh (after asking); with the
        space as edited while it ran, if it was."""
        space = self._space_for_restart()
        edited = "" if space is None else ", and with the space as you edited it"
        answer = QMessageBox.question(
            self._parent, "Restart", "Drop every trial of this experiment and start afresh "
            f"with a new snapshot of the code{edited}?")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        workspace = self.workspace
        return self._packing("restart", lambda eid, progress: workspace.restart(
            eid, progress=progress, space=space), save=space is None)

    @Slot()
    def stop(self) -> None:
        """Stop the selected experiment's trials."""
        experiment_id = self._current()
        if experiment_id is not None and self._guard(lambda: self.workspace.stop(experiment_id)):
            self.stopRequested.emit(None)
        self.changed.emit()

    @Slot()
    def pause(self) -> None:
        """Start no new trials."""
        self._each(self.workspace.pause)

    def _each(self, action: Callable[[int], None]) -> None:
        experiment_id = self._current()
        if experiment_id is not None:
            self._guard(lambda: action(experiment_id))
            self.changed.emit()

    @Slot(int)
    def stop_trial(self, trial_id: int) -> None:
        """Stop one trial of the selected experiment; the others go on."""
        experiment_id = self._current()
        if experiment_id is not None and self._guard(
                lambda: self.workspace.stop_trial(experiment_id, trial_id)):
            self.stopRequested.emit(trial_id)
            self.message.emit("stopping the trial…")

    @Slot(int, object)
    def rerun(self, trial_id: int, early_stopping: EarlyStopping = EarlyStopping.EXEMPT) -> bool:
        """Run a trial's params again as a new trial (starting the experiment if idle),
        by default to its end (exempt from early stopping)."""
        workspace = self.workspace
        return self._packing("rerun", lambda eid, progress: workspace.rerun(
            eid, trial_id, early_stopping=early_stopping, progress=progress))

    @Slot()
    def requeue_failed(self) -> bool:
        """Run every trial whose params only ever failed once more."""
        workspace = self.workspace
        return self._packing(
            "requeue", lambda eid, progress: workspace.requeue_failed(eid, progress=progress),
            lambda count: self.message.emit(f"{count} failed trial(s) queued again"))

    @Slot()
    def take_up(self) -> bool:
        """Follow again the runs a program that is gone left running or paused (after a
        crash); False when there are none. A paused one stays paused."""
        if not self.workspace.orphans():
            return False

        def done(lines: list[str]) -> None:
            self.message.emit(f"{len(lines)} interrupted run(s): " + "; ".join(lines))
            self.changed.emit()

        return self.tasks.run("take up", "Following the interrupted runs again…",
                              self.workspace.reattach, done)
