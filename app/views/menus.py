"""The main window's actions: one :class:`QAction` each, in the menu bar and the toolbar.

Menus: File (new experiment, open and save an experiment file, servers, exports,
quit), Experiment (the run actions
and editing), Help (guided setup, reporting metrics, keyboard shortcuts, about).
The toolbar shows the run actions. :func:`build_actions` returns the actions by
name so the window can enable them and tests can trigger them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QDialog, QWidget

from app.application.live import STOPPING
from app.engine.trial import ExperimentState
from app.views.help_dialogs import AboutDialog, ReportingHelpDialog, ShortcutsDialog

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, menu text, slot, shortcut, and toolbar text if shown there."""

    name: str
    text: str
    slot: Callable[[], object]
    shortcut: QKeySequence | None = None
    toolbar: str | None = None


MENUS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("&File", ("new", "open_file", "save_file", "servers", None, "export", "export_json",
               "export_best", None, "quit")),
    ("&Experiment", ("start", "stop", "pause", "resume", "restart", "requeue_failed", None,
                     "save", "settings",
                     None, "duplicate", "rename", "delete")),
    ("&Help", ("guided_setup", "help_metrics", "shortcuts", None, "about")),
)
"""Menu titles and their actions by name, in order; None is a separator."""


def action_specs(window: MainWindow) -> list[ActionSpec]:
    """Every action of the window, in toolbar order first."""
    run, exports = window.run_control, window.exports
    return [
        ActionSpec("start", "&Start", run.start, QKeySequence(Qt.Key.Key_F5), "Start"),
        ActionSpec("stop", "S&top", run.stop, None, "Stop"),
        ActionSpec("pause", "&Pause", run.pause, None, "Pause"),
        ActionSpec("resume", "&Resume", run.resume, None, "Resume"),
        ActionSpec("restart", "Rest&art…", run.restart, None, "Restart"),
        ActionSpec("requeue_failed", "Re-&queue failed trials", run.requeue_failed),
        ActionSpec("save", "Sa&ve space", window.editing.save, QKeySequence(Key.Save), "Save"),
        ActionSpec("settings", "Se&ttings…", window.editing.edit_settings, None, "Settings…"),
        ActionSpec("export", "Export trials as &CSV…", lambda: exports.export_csv(),
                   QKeySequence("Ctrl+E"), "Export CSV…"),
        ActionSpec("servers", "Ser&vers…", window.open_servers, None, "Servers…"),
        ActionSpec("new", "&New experiment…", window.editing.new_experiment, QKeySequence(Key.New)),
        ActionSpec("open_file", "&Open experiment file…",
                   lambda: window.editing.open_experiment_file(), QKeySequence(Key.Open)),
        ActionSpec("save_file", "Save &as experiment file…",
                   lambda: window.editing.save_experiment_file(), QKeySequence(Key.SaveAs)),
        ActionSpec("export_json", "Export trials as &JSON…", exports.export_json),
        ActionSpec("export_best", "Export &best params.json…",
                   lambda: exports.export_best_params()),
        ActionSpec("quit", "&Quit", window.close, QKeySequence("Ctrl+Q")),
        ActionSpec("duplicate", "&Duplicate…", window.editing.duplicate),
        ActionSpec("rename", "Re&name…", window.editing.rename),
        ActionSpec("delete", "De&lete…", window.editing.delete),
        ActionSpec("guided_setup", "&Guided setup…", lambda: window.guided_setup()),
        ActionSpec("help_metrics", "&Reporting metrics", lambda: show_reporting_help(window),
                   QKeySequence(Key.HelpContents)),
        ActionSpec("shortcuts", "&Keyboard shortcuts", lambda: show_shortcuts(window)),
        ActionSpec("about", "&About Sweeplab", lambda: show_about(window)),
    ]


def build_actions(window: MainWindow) -> dict[str, QAction]:
    """Make the window's actions, its menu bar and its "Run" toolbar; returns the
    actions by name. Also gives the experiment list a Delete-key shortcut."""
    actions: dict[str, QAction] = {}
    toolbar = window.addToolBar("Run")
    toolbar.setObjectName("run-toolbar")
    for spec in action_specs(window):
        action = QAction(spec.text, window)
        if spec.name in RUN_TIPS:
            action.setToolTip(RUN_TIPS[spec.name])
        if spec.shortcut is not None:
            action.setShortcut(spec.shortcut)
        action.triggered.connect(lambda _checked=False, slot=spec.slot: slot())
        if spec.toolbar is not None:
            action.setIconText(spec.toolbar)
            toolbar.addAction(action)
        actions[spec.name] = action
    bar = window.menuBar()
    for title, names in MENUS:
        menu = bar.addMenu(title)
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[name])
    delete_key = QAction("Delete experiment", window.list)
    delete_key.setShortcut(QKeySequence(Key.Delete))
    delete_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    delete_key.triggered.connect(window.editing.delete)
    window.list.addAction(delete_key)
    mirror(actions["delete"], delete_key)
    return actions


def mirror(action: QAction, other: QAction | QAbstractButton) -> None:
    """Keep ``other`` (a button or key for the same command) enabled as ``action`` is,
    with its tooltip: one rule for every place the command appears."""
    def follow() -> None:
        other.setEnabled(action.isEnabled())
        other.setToolTip(action.toolTip())

    action.changed.connect(follow)
    follow()


RUN_TIPS = {
    "pause": "Pause: start no new trials. Running trials go on to their end; the budget "
             "(max trials, time) is kept for Resume.",
    "resume": "Resume: start trials again where the run left off (after a pause, a stop or "
              "a crash). Running trials go on; trials already run count against the budget.",
    "restart": "Restart: stop the running trials, drop every trial and start afresh with "
               "a new snapshot of the code: the whole budget is spent again from zero.",
}
"""What each run action does to running trials and to the budget (toolbar tooltips)."""
STOP_TEXTS = {False: "Stop", True: STOPPING.capitalize()}
STOP_TIPS = {
    False: "Stop: stop every running trial now (Ctrl-C, then killed after a grace) and "
           "end the run. Stopped trials do not count as completed; Resume goes on with "
           "the budget left.",
    True: "Stopping: the running trials were asked to stop and have not all ended yet.",
}


def update_actions(window: MainWindow) -> None:
    """Enable what makes sense for the selected experiment, its state and its space
    (nothing that needs a selection while a long task runs)."""
    actions = window.actions_by_name
    experiment_id = window.current_id
    selected = experiment_id is not None and window.run_control.tasks.busy is None
    running = experiment_id is not None and selected and window.workspace.is_running(
        experiment_id)
    model = window.live.model
    shown = model is not None and model.experiment_id == experiment_id
    state = model.state if shown and model is not None else None
    stopping = shown and model is not None and model.stopping
    valid, reason = window.panels.space_validity()
    elsewhere = (experiment_id is not None and selected and not running
                 and window.workspace.seen_driven_elsewhere(experiment_id))
    free = valid and not elsewhere  # another program's run is only watched (and stopped)
    actions["start"].setEnabled(selected and not running and free)
    actions["start"].setToolTip("another program runs it: watch it here, or stop it"
                                if elsewhere else "" if valid
                                else f"the space is invalid: {reason}")
    actions["stop"].setEnabled((running or elsewhere) and not stopping)
    actions["stop"].setIconText(STOP_TEXTS[stopping])
    actions["stop"].setToolTip(STOP_TIPS[stopping])
    actions["pause"].setEnabled(running and state is ExperimentState.RUNNING and not stopping)
    actions["resume"].setEnabled(
        selected and (state is ExperimentState.PAUSED or not running) and free)
    actions["restart"].setEnabled(selected and free)
    actions["requeue_failed"].setEnabled(selected and free and model is not None
                                         and model.counts().failed > 0)
    for name in ("settings", "save", "delete"):
        actions[name].setEnabled(selected and not running and not elsewhere)
    actions["delete"].setToolTip(
        "it is running: stop it before you delete it" if running
        else "another program runs it: stop it before you delete it" if elsewhere
        else "delete the experiment with all its trials")
    actions["save"].setToolTip(
        "the run uses the space as it was at Start: Restart applies your edits" if running
        else "another program runs it: stop it to edit the space" if elsewhere
        else "store the edited space")
    for name in ("export", "export_json", "export_best", "duplicate", "rename", "save_file"):
        actions[name].setEnabled(selected)


def _show(dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def show_reporting_help(window: MainWindow) -> QDialog:
    """Help → Reporting metrics, its examples in the shown experiment's KPI name."""
    return _show(ReportingHelpDialog(window.kpi_name(), window))


def show_shortcuts(window: MainWindow) -> QDialog:
    """Help → Keyboard shortcuts, from every action of the window and its widgets."""
    return _show(ShortcutsDialog(window.findChildren(QAction), window,
                                 lambda action: where_it_works(window, action)))


def where_it_works(window: MainWindow, action: QAction) -> str:
    """``everywhere``, ``experiment list``, or the tab (``Space tab``…) the action's
    owner sits in."""
    owner = action.parent()
    if isinstance(owner, QWidget) and owner is not window:
        if window.list is owner or window.list.isAncestorOf(owner):
            return "experiment list"
        for index in range(window.tabs.count()):
            page = window.tabs.widget(index)
            if page is not None and (page is owner or page.isAncestorOf(owner)):
                return f"{window.tabs.tabText(index)} tab"
    return "everywhere"


def show_about(window: MainWindow) -> QDialog:
    """Help → About Sweeplab, with the database the window shows."""
    return _show(AboutDialog(window.workspace.store.url, window))
