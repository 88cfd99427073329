"""The main window: experiments on the left; Space, Trials, Charts and Log per experiment.

The window renders the workspace's data and calls its commands; engine events
reach it through :class:`~app.views.bridge.EngineBridge` (a queue drained on the GUI
thread). The shown experiment's run lives in one
:class:`~app.application.live.LiveExperiment` (held by :class:`~app.views.live.LiveView`):
the list row, status bar, grid, table, trial details, charts and log all follow its
changes. Its
actions, menus and toolbar are made by :mod:`app.views.menus`; exports by
:mod:`app.views.exports`; notifications by :mod:`app.views.notify`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QModelIndex,
    QObject,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Slot,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.application.clusters import Clusters
from app.application.definitions import BrokenExperiment, config_or_broken
from app.application.lineage import experiment_picture, is_pbt
from app.application.live import STOPPING, LiveChange, LiveExperiment
from app.application.loading import BoundsRead, LoadEnded, PointsRead, TrialsRead
from app.application.servers import SecretKeeper, Servers
from app.application.workspace import ActionRefused, Workspace
from app.engine.best import TrialTally
from app.engine.events import ExperimentChange
from app.engine.experiment import ExperimentConfig
from app.engine.lease import other_driver
from app.engine.ports import StoreError
from app.engine.records import ExperimentRecord, MetricPoint, TrialRecord
from app.engine.space.nodes import Space
from app.engine.trial import ExperimentState, TrialState
from app.views.bridge import EngineBridge
from app.views.closing import Closing, waiting_text
from app.views.experiment_actions import ExperimentActions
from app.views.experiment_list import (
    ID_ROLE,
    ExperimentListModel,
    ExperimentRow,
    summarise_live,
    summarise_tally,
)
from app.views.exports import ExportActions
from app.views.first_run import FirstRunWizard, open_guided_setup
from app.views.garbage import collect_on_gui_thread
from app.views.live import LiveView
from app.views.loading import ExperimentLoading, SummaryReading
from app.views.menus import build_actions, mirror, update_actions
from app.views.notify import DesktopNotifier, NotificationWatcher, Notifier
from app.views.panels import ExperimentPanels, swap_tab
from app.views.prompts import Quitting, Unsaved, ask, ask_unsaved
from app.views.run_control import RunControl
from app.views.trials.columns import ColumnChoices
from app.views.trials.log_view import LogView, read_log_tail

if TYPE_CHECKING:  # pyqtgraph, numpy and the SSH stack: loaded after the first paint
    from app.views.pbt import PbtPanel
    from app.views.servers import ServersDialog
    from app.views.trials.detail import TrialDetail

_NEEDS_DEFINITION = ("start", "resume", "restart", "requeue_failed", "settings", "save",
                     "export_best", "save_file")
"""Actions that read the experiment's definition: off while a broken one is shown."""
log = logging.getLogger(__name__)
_DATA_TABS = 3
"""Space, Trials and Charts: the tabs that show an experiment's definition and trials."""
FOLLOW_S = 2.0
"""How often the shown experiment is read back (on a thread of its own) while another
program drives it."""
SPACE_TAB, SPACE_TAB_MODIFIED = "Space", "Space •"
"""The Space tab's title, without and with unsaved edits."""
RUN_USES_START = ("This run uses the space as it was at Start. Edits made here apply at "
                  "the next Restart, which stops the run, drops its trials and starts "
                  "afresh with the edited space.")
EDITING_FOR_RESTART = ("Editing for the next Restart: this run goes on with the space as it "
                       "was at Start. Restart applies these edits; they cannot be saved "
                       "while it runs.")
RUN_ELSEWHERE = ("Another program runs this experiment with the space as it was at its "
                 "start: stop it to edit the space.")
EDIT_FOR_RESTART = "Edit for the next Restart"


class MainWindow(QMainWindow):
    """Sweeplab's window over one :class:`Workspace` (one database).

    Args:
        workspace: the experiments and their runs.
        title: shown in the title bar (the database, say).
        settings: where geometry and the last experiment are kept (default: the app's).
        notifier: shows notifications (default: tray balloon, else the status bar).
        first_run: a new user: open the welcome wizard (demo or guided setup) once the
            window shows. Off by default, so tests and scripts never see it.
        take_up: follow again, once the window shows, the runs a program that is gone
            left running or paused (off by default, as ``first_run``).
        paint_first: paint the window before anything heavy loads (the program's start):
            the experiments are listed and shown, and the Trials, Charts and PBT tabs
            (numpy, pyqtgraph) made, on the event-loop turn after its first paint;
            ``first_run`` and ``take_up`` follow. Off by default: the window is complete
            when made (tests, scripts).
    """

    def __init__(self, workspace: Workspace, title: str, settings: QSettings | None = None, *,
                 notifier: Notifier | None = None, first_run: bool = False,
                 take_up: bool = False, paint_first: bool = False) -> None:
        super().__init__()
        collect_on_gui_thread(self)  # the engine's threads must never free a Qt object
        self.workspace = workspace
        self.settings = settings or QSettings()
        self.setWindowTitle(f"Sweeplab — {title}[*]")  # [*]: unsaved space edits
        self.current_id: int | None = None
        self._edit_for_restart = False
        """The user chose to edit the space of the running experiment for its Restart."""
        # the shown experiment's record and validated definition, read once per change of
        # experiment or of its state, not on every trial update
        self._record: ExperimentRecord | None = None
        self._config: ExperimentConfig | None = None
        self._broken: BrokenExperiment | None = None

        self._keeper: SecretKeeper | None = None
        workspace.secrets = lambda profile: self.keeper.get(profile.name)
        self.bridge = EngineBridge(self)
        self._unsubscribe = workspace.subscribe(self.bridge.on_event)
        self.live = LiveView(self)
        """The shown experiment's run: every panel follows :attr:`LiveView.changed`."""
        self._details: dict[int, TrialDetail] = {}
        self._shown_run: tuple[object, ...] = ()
        self.bridge.events.connect(self.live.take)
        self.live.changed.connect(self._on_live)
        self.bridge.experimentChanged.connect(self._on_experiment)
        self.bridge.experimentAltered.connect(self._on_altered)
        self.loads = ExperimentLoading(workspace, self)  # trials and points, off this thread
        self.loads.trialsRead.connect(self._on_trials_read)
        self.loads.trialsAdded.connect(self._on_trials_added)
        self.loads.boundsRead.connect(self._on_bounds_read)
        self.loads.pointsRead.connect(self._on_points_read)
        self.loads.loadEnded.connect(self._on_load_ended)
        self.summaries = SummaryReading(workspace, self)
        self.summaries.summariesRead.connect(self._show_summaries)
        self._closing = Closing(workspace, self)
        """Ends the runs off this thread when the window closes (see closeEvent)."""
        self._held_points: list[MetricPoint] = []
        """Live points that arrived while the shown experiment loads (drawn after it, but
        for those at or before the newest step read of their series: LoadEnded's
        ``last_steps``, as they were stored before the read)."""
        self._stops_to_carry: tuple[frozenset[int], bool] = (frozenset(), False)
        """Stops under way on the experiment shown again, marked once its trials arrive."""
        self.notifications = NotificationWatcher(
            notifier or DesktopNotifier(self), lambda eid: workspace.experiment(eid).name, self)
        self.bridge.experimentChanged.connect(self.notifications.on_experiment)
        self.bridge.trialChanged.connect(self.notifications.on_trial)

        self.experiments = ExperimentListModel(self)
        self.list = QListView()
        self.list.setModel(self.experiments)
        self.list.setAlternatingRowColors(True)
        self.list.selectionModel().currentChanged.connect(self._on_select)
        buttons = QHBoxLayout()
        self.editing = ExperimentActions(self)
        list_buttons: dict[str, QPushButton] = {}
        for text, slot in (("New", self.editing.new_experiment),
                           ("Duplicate", self.editing.duplicate),
                           ("Rename", self.editing.rename), ("Delete", self.editing.delete)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            list_buttons[text] = button
        self.delete_button = list_buttons["Delete"]
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list)
        left_layout.addLayout(buttons)

        self.panels = ExperimentPanels(self)
        self.panels.panelBuilt.connect(self._place_panel)
        self.log = LogView()
        self.run_control = RunControl(workspace, self, lambda: self.current_id,
                                      self.editing.save_space, self._space_for_restart)
        self.run_control.changed.connect(self._update_actions)
        self.run_control.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.run_control.stopRequested.connect(self.live.request_stop)
        self.exports = ExportActions(workspace, self.run_control.tasks, self,
                                     lambda: self.current_id, self.held_trials, self.settings)
        self.exports.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.panels.space, SPACE_TAB)
        self.tabs.addTab(self.panels.trials_page, "Trials")
        self.tabs.addTab(self.panels.charts_page, "Charts")
        self.tabs.addTab(self.log, "Log")
        self._pbt: PbtPanel | None = None
        self._pbt_page = QWidget()
        """Holds the PBT tab's place until :attr:`pbt` is made."""
        self.tabs.addTab(self._pbt_page, "PBT")
        self.tabs.setTabVisible(self.tabs.indexOf(self._pbt_page), False)  # a PBT one shows it
        self.panels.stopTrial.connect(self.run_control.stop_trial)
        self.panels.space.validityChanged.connect(lambda _ok, _why: self._update_actions())
        self.panels.space.undo_stack.cleanChanged.connect(self._show_modified)
        self.panels.space.bannerClicked.connect(self._edit_space_for_restart)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 1000])
        self.setCentralWidget(self.splitter)

        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status, 1)
        self.actions_by_name = build_actions(self)
        mirror(self.actions_by_name["delete"], self.delete_button)
        self._first_run, self._take_up = first_run, take_up
        self._after_paint: _AfterFirstPaint | None = None
        if paint_first:  # the rest once the window is on the screen
            self._after_paint = _AfterFirstPaint(self, self._filled_after_paint)
            self._update_actions()
        else:
            self._fill()
        self._restore_settings()
        # runs another program drives, read from the store off this thread
        self._following = workspace.follow_elsewhere(FOLLOW_S)

    def _fill(self) -> None:
        """Make every tab, list the experiments and show the last one used; then the
        welcome wizard and the take-up of runs left behind, when asked for."""
        self.panels.build()
        _ = self.pbt
        self.reload_experiments()
        if self._first_run:
            QTimer.singleShot(0, self, lambda: self.guided_setup(welcome=True))
        if self._take_up:
            QTimer.singleShot(0, self, self.run_control.take_up)

    def _filled_after_paint(self) -> None:
        self._after_paint = None
        if self.isVisible():  # not closed meanwhile
            self._fill()

    def is_filled(self) -> bool:
        """Every tab is made and the experiments are listed (see ``paint_first``)."""
        return self._after_paint is None and self.panels.is_built() and self._pbt is not None

    @property
    def pbt(self) -> PbtPanel:
        """The PBT tab (made now, with pyqtgraph, if it was not yet)."""
        if self._pbt is None:
            from app.views.pbt import PbtPanel

            workspace = self.workspace
            self._pbt = PbtPanel(lambda eid: experiment_picture(workspace, eid))
            swap_tab(self.tabs, self._pbt_page, self._pbt)
        return self._pbt

    @Slot(QWidget, QWidget)
    def _place_panel(self, page: QWidget, panel: QWidget) -> None:
        """The Trials or Charts panel was just made: into its tab, wired to the window."""
        swap_tab(self.tabs, page, panel)
        if page is self.panels.trials_page:
            trials = self.panels.trials
            trials.trialActivated.connect(self.open_trial)
            trials.compareRequested.connect(self._open_compare)
            trials.set_column_choices(ColumnChoices(self.settings))

    def _open_compare(self, ids: list[int]) -> None:
        from app.views.compare import open_compare

        open_compare(ids, self.panels.charts.data, self)

    # --- actions -------------------------------------------------------------------

    def _update_actions(self) -> None:
        update_actions(self)
        if self._broken is not None:
            for name in _NEEDS_DEFINITION:
                self.actions_by_name[name].setEnabled(False)
        self._update_space_lock()

    # --- the space being edited ------------------------------------------------------

    def _runs_now(self) -> bool:
        """The shown experiment runs, here or in another program."""
        eid = self.current_id
        return eid is not None and (self.workspace.is_running(eid)
                                    or self.workspace.seen_driven_elsewhere(eid))

    def _update_space_lock(self) -> None:
        """While the shown experiment runs, its space is read-only and says which space
        the run uses, until the user chooses to edit it for the next Restart."""
        editor = self.panels.space
        eid = self.current_id
        here = eid is not None and self.workspace.is_running(eid)
        elsewhere = eid is not None and not here and self.workspace.seen_driven_elsewhere(eid)
        if elsewhere:
            editor.set_read_only(True)
            editor.set_banner(RUN_ELSEWHERE)
        elif here and (self._edit_for_restart or editor.is_modified()):
            editor.set_read_only(False)
            editor.set_banner(EDITING_FOR_RESTART)
        elif here:
            editor.set_read_only(True)
            editor.set_banner(RUN_USES_START, EDIT_FOR_RESTART)
        else:
            self._edit_for_restart = False
            editor.set_read_only(False)
            editor.set_banner("")

    @Slot()
    def _edit_space_for_restart(self) -> None:
        self._edit_for_restart = True
        self._update_space_lock()

    def _space_for_restart(self) -> Space | None:
        """The space edited while the shown experiment runs (Restart applies it)."""
        eid = self.current_id
        editor = self.panels.space
        if eid is None or not editor.is_modified() or not self.workspace.is_running(eid):
            return None
        return editor.space()

    @Slot(bool)
    def _show_modified(self, clean: bool) -> None:
        """Mark unsaved space edits: "Space •" on the tab, ``*`` in the title."""
        self.tabs.setTabText(self.tabs.indexOf(self.panels.space),
                             SPACE_TAB if clean else SPACE_TAB_MODIFIED)
        self.setWindowModified(not clean)

    def settle_space_edits(self) -> bool:
        """Ask what becomes of the shown experiment's unsaved space edits before it is
        left (another experiment shown, the window closed): Save, Discard or Cancel.
        False: stay (Cancel, or the save was refused and said why)."""
        eid = self.current_id
        editor = self.panels.space
        if eid is None or self._broken is not None or not editor.is_modified():
            return True
        name = self._record.name if self._record is not None else str(eid)
        answer = ask_unsaved(self, name, can_save=not self._runs_now())
        if answer is Unsaved.CANCEL:
            return False
        if answer is Unsaved.SAVE:
            return self.guard(lambda: self.editing.save_space(eid))
        return True

    def guard(self, action: Any) -> bool:
        """Run ``action``; a refusal (ActionRefused, ValueError, OSError) goes to a message box."""
        try:
            action()
        except (ActionRefused, ValueError, OSError) as exc:
            QMessageBox.warning(self, "Sweeplab", str(exc))
            return False
        return True

    def start(self) -> bool:
        """Start (or continue) the selected experiment; the code is packed off this thread."""
        return self.run_control.start()

    def stop(self) -> None:
        """Stop the selected experiment's trials."""
        self.run_control.stop()

    def export_csv(self, path: Path | None = None) -> bool:
        """Write the selected experiment's trials as CSV (in the background)."""
        return self.exports.export_csv(path)

    @Slot()
    def open_servers(self) -> ServersDialog:
        """The saved lab servers: add, edit, test, live status."""
        from app.views.servers import ServersDialog

        servers = Servers(self.workspace.store, self.keeper)
        dialog = ServersDialog(servers, self, clusters=Clusters(self.workspace.store, servers))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.notifications.follow(dialog.monitor)
        dialog.show()
        return dialog

    def kpi_name(self) -> str:
        """The shown experiment's KPI name (``loss`` when none is shown)."""
        return self._config.kpi.name if self._config is not None else "loss"

    def guided_setup(self, welcome: bool = False) -> FirstRunWizard:
        """The guided first optimisation; ``welcome`` starts on the demo-or-own page."""
        return open_guided_setup(self, welcome)

    @Slot(int)
    def open_trial(self, trial_id: int) -> TrialDetail | None:
        """The trial's detail: every metric as curves, its log, params and command."""
        model = self.live.model
        record = None if model is None else model.trial(trial_id)
        if model is None or record is None or self._config is None:
            return None
        open_one = self._details.get(trial_id)
        if open_one is not None:
            open_one.raise_()
            return open_one
        from app.views.trials.detail import TrialDetail

        config = self._config
        log = read_log_tail(Path(record.trial_dir) / "output.log") if record.trial_dir else ""
        detail = TrialDetail(record, self.workspace.metrics(trial_id), log, config.command,
                             config.kpi.name, config.kpi.goal, self,
                             scheduler=config.scheduler)
        detail.set_stopping(model.is_stopping(trial_id))
        detail.stopRequested.connect(self.run_control.stop_trial)
        detail.rerunRequested.connect(self.run_control.rerun)
        detail.finished.connect(lambda _result: self._details.pop(trial_id, None))
        # closed, it is gone (its curves and log with it): each detail opened in a
        # session was kept, hidden, until the window closed
        detail.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._details[trial_id] = detail
        detail.show()
        return detail

    def _close_details(self) -> None:
        """Another experiment is shown: the open trial details were of the last one."""
        for detail in list(self._details.values()):
            detail.close()
        self._details.clear()

    # --- data ----------------------------------------------------------------------

    def reload_experiments(self, select_name: str | None = None) -> None:
        """Re-read every experiment's summary (one aggregate read of the trials, not the
        trials themselves); keep (or set) the selection."""
        self._show_summaries(self.workspace.experiments(), self.workspace.tallies(),
                             select_name)

    @Slot(object, object)
    def _show_summaries(self, records: list[ExperimentRecord], tallies: dict[int, TrialTally],
                        select_name: str | None = None) -> None:
        """List these experiments; keep (or set) the selection."""
        rows = [summarise_tally(e, config_or_broken(e), tallies.get(e.id, TrialTally()))
                for e in records]
        keep = self.current_id
        self.experiments.set_rows(rows)
        self._refresh_list_row()  # the shown one as its live model has it
        target = next((r.record.id for r in rows if r.record.name == select_name), keep)
        if target is None and rows:  # at start: the one used last, else the first
            last = str(self.settings.value("last_experiment"))
            target = next((r.record.id for r in rows if str(r.record.id) == last),
                          rows[0].record.id)
        row = self.experiments.row_of(target) if target is not None else None
        if row is not None:
            self.list.setCurrentIndex(self.experiments.index(row))
            # the one shown now: the target, or the kept one when leaving it was cancelled;
            # read again only when it is another one or its definition or name changed (a
            # list read after the shown one was created reloaded it while its run began)
            shown = self.list.currentIndex().data(ID_ROLE)
            fresh = next(r.record for r in rows if r.record.id == shown)
            before = self._record
            if (shown != self.current_id or before is None
                    or (fresh.name, fresh.definition) != (before.name, before.definition)):
                self.show_experiment(shown)
        else:
            self.current_id = None
            self._update_actions()

    def _on_select(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        experiment_id = current.data(ID_ROLE)
        if experiment_id == self.current_id:
            return
        if not self.settle_space_edits():  # Cancel: the shown one stays selected
            row = self.experiments.row_of(self.current_id or 0)
            if row is not None:
                self.list.setCurrentIndex(self.experiments.index(row))
            return
        self.show_experiment(experiment_id)

    def show_experiment(self, experiment_id: int) -> None:
        """Load one experiment into the tabs. Shown again (a reload), its space keeps
        unsaved edits that differ from the stored one."""
        same = experiment_id == self.current_id
        if not same:
            self._edit_for_restart = False
            self._close_details()
        self.current_id = experiment_id
        self._record = record = self.workspace.experiment(experiment_id)
        config = config_or_broken(record)
        self._broken = config if isinstance(config, BrokenExperiment) else None
        pbt = not isinstance(config, BrokenExperiment) and is_pbt(config)
        self.tabs.setTabVisible(self.tabs.indexOf(self.pbt), pbt)
        self.pbt.show_experiment(experiment_id if pbt else None)
        for index in range(_DATA_TABS):  # a broken one has nothing to show in them
            self.tabs.setTabEnabled(index, self._broken is None)
        if isinstance(config, BrokenExperiment):
            self._config = None
            self.live.show(LiveExperiment(record))
            self.tabs.setCurrentWidget(self.log)
            self.log.set_text(f"{config}\nDelete it, or copy its trials out with Export.\n")
            return
        self._config = config
        editor = self.panels.space
        keep = same and editor.is_modified() and editor.space() != config.space
        before = self.live.model if same else None  # shown again: a stop under way goes on
        self._stops_to_carry = (frozenset(), False) if before is None else (
            before.stopping_ids(), before.stopping)
        # empty until the trials arrive: nothing of the experiment shown before stays
        self._held_points = []
        self.panels.show(config, [], [], space=not keep)
        self.panels.charts.set_loading(True)
        self.live.show(LiveExperiment(record, config.kpi, config.limits.max_epochs))
        self.log.set_entries([])
        self.loads.load(experiment_id, config.kpi)
        self.settings.setValue("last_experiment", experiment_id)

    def is_loading(self) -> bool:
        """The shown experiment's trials and points are still being read."""
        return self.loads.loading is not None

    @Slot(object)
    def _on_trials_read(self, part: TrialsRead) -> None:
        """The trials and the log of the experiment being opened: the live model (which
        every panel follows), the grid and table (the first of them) and the charts."""
        model = self.live.model
        if part.experiment_id != self.current_id or self._config is None or model is None:
            return
        self.live.load(part.trials, summary=part.summary)
        # as the live model holds them (events since the read win), with the trials
        # created after the read; the rest of those read follow (trialsAdded)
        read = {t.id for t in part.trials}
        first = [model.trial(t.id) or t for t in part.trials[:self.loads.trials_per_step]]
        first += [t for t in model.trials() if t.id not in read]
        self.panels.load_trials(first, model.trials())
        self.log.set_entries((e.time, e.message) for e in part.events)
        trial_ids, run = self._stops_to_carry
        self._stops_to_carry = (frozenset(), False)
        for trial_id in trial_ids:
            self.live.request_stop(trial_id)
        if run:
            self.live.request_stop()

    @Slot(object)
    def _on_trials_added(self, records: tuple[TrialRecord, ...]) -> None:
        """More of the trials of the experiment being opened, for the grid and table."""
        model = self.live.model
        if model is not None and records and records[0].experiment_id == self.current_id:
            # as the live model holds them: a change since the read wins
            self.panels.add_trials([model.trial(t.id) or t for t in records])

    @Slot(object)
    def _on_bounds_read(self, part: BoundsRead) -> None:
        """The bounds of the KPI's stored points: the curves take their final range."""
        if part.experiment_id == self.current_id:
            self.panels.charts.expect_bounds(part.name, part.bounds)

    @Slot(object)
    def _on_points_read(self, part: PointsRead) -> None:
        """A batch of stored points (whole trials): the curves fill in."""
        if part.experiment_id == self.current_id:
            self.panels.add_history(part.series, part.ends)
            self.live.see_history(part.ends)

    @Slot(object)
    def _on_load_ended(self, part: LoadEnded) -> None:
        """Everything stored is shown: follow it from here (live points held meanwhile)."""
        model = self.live.model
        if part.experiment_id != self.current_id or model is None:
            return
        # followed from what is shown: the watcher's first look publishes whatever the
        # store holds that differs (a run started or ended while this was read)
        self.workspace.watcher.follow(model.record, model.trials(), part.counts)
        self._update_actions()  # who drives it is known from here on
        self._refresh_status()
        self.panels.charts.set_loading(False)
        held, self._held_points = self._held_points, []
        stored = part.last_steps
        held = [p for p in held  # those stored before the read are drawn already
                if p.step is None or p.step > stored.get((p.trial_id, p.name), -1)]
        if held:
            self.panels.add_points(held)
        if part.failure is not None:
            self.statusBar().showMessage(f"Could not read all of the experiment: {part.failure}")

    @Slot(object)
    def _on_live(self, change: LiveChange) -> None:
        """The shown experiment's live model changed: every panel follows."""
        with _store_may_fail():
            self._follow_live(change)

    def _follow_live(self, change: LiveChange) -> None:
        model = self.live.model
        if model is None:
            return
        if not change.reset:
            for record in change.trials:
                self.panels.update_trial(record)
            if change.points and self.is_loading():  # after the stored ones, in order
                self._held_points.extend(change.points)
            elif change.points:
                self.panels.add_points(change.points)
            for line in change.log:
                self.log.append_entry(line)
        progress = {trial_id: (shown.step, shown.total) for trial_id in change.progress
                    if (shown := model.progress(trial_id)).step is not None}
        if progress:
            self.panels.trials.set_progress(progress)
        if change.reset or change.stopping:
            self.panels.trials.set_stopping(model.stopping_ids())
        self._follow_in_details(model, change)
        if change.summary or change.reset:
            self._refresh_status()
            self._refresh_list_row()
            run = (model.state, model.stopping, model.counts().failed > 0)
            if change.reset or run != self._shown_run:
                self._shown_run = run
                self._update_actions()

    def _follow_in_details(self, model: LiveExperiment, change: LiveChange) -> None:
        """Open trial details show their trial as the live model has it."""
        for trial_id, detail in list(self._details.items()):
            if change.points:  # even while a reload has not read its trial yet
                detail.add_points(change.points)
            record = model.trial(trial_id)
            if record is None:
                continue
            if change.reset or any(t.id == trial_id for t in change.trials):
                detail.set_record(record)
            if change.reset or trial_id in change.stopping:
                detail.set_stopping(model.is_stopping(trial_id))

    @Slot(int, object)
    def _on_altered(self, experiment_id: int, change: ExperimentChange) -> None:
        with _store_may_fail():
            self._altered(experiment_id, change)

    def _altered(self, experiment_id: int, change: ExperimentChange) -> None:
        if change.lists_differ:  # read off this thread, listed when read
            self.summaries.read()
            return
        if change is ExperimentChange.RESTARTED and experiment_id == self.current_id:
            self._close_details()  # their trials were dropped (and their ids may come back)
            self._edit_for_restart = False  # the restart applied those edits: used up
            self.show_experiment(experiment_id)
        self._refresh_experiment(experiment_id)

    @Slot(int, object, str)
    def _on_experiment(self, experiment_id: int, state: object, message: str) -> None:
        with _store_may_fail():
            self._refresh_experiment(experiment_id)

    def _refresh_experiment(self, experiment_id: int) -> None:
        """Show ``experiment_id``'s stored record in the status and its row: the shown
        one's record is read here (one row), another's row with the list, off this
        thread (its trials' counts are an aggregate over every experiment's trials)."""
        model = self.live.model
        if model is not None and experiment_id == model.experiment_id:
            self._record = record = self.workspace.experiment(experiment_id)
            self.live.set_record(record)
            self._refresh_status()
            self._refresh_list_row()
            self._update_actions()
        elif self.experiments.row_of(experiment_id) is not None:
            self.summaries.read()

    def _summary(self) -> ExperimentRow | None:
        """The shown experiment's summary from its live model (no I/O)."""
        model = self.live.model
        if model is None or self._config is None:
            return None
        return summarise_live(model, self._config.kpi.name)

    def _refresh_list_row(self) -> None:
        """The shown experiment's row on the left, from its live model: the same counts
        and best as the status bar."""
        row = self._summary()
        if row is not None and self.experiments.row_of(row.record.id) is not None:
            self.experiments.update_row(row)

    @property
    def keeper(self) -> SecretKeeper:
        """Server secrets (keyring, or memory for this workspace); made on first use, as
        finding the keyring backend costs ~0.5 s of start-up on Linux."""
        if self._keeper is None:
            self._keeper = SecretKeeper()
        return self._keeper

    def held_trials(self) -> list[TrialRecord]:
        """The shown experiment's trials as its live model holds them (no I/O)."""
        model = self.live.model
        return [] if model is None else model.trials()

    def trial_count(self) -> int:
        """How many trials the Trials tab lists."""
        return self.panels.trials.table.model.total_count()

    def _refresh_status(self) -> None:
        row = self._summary() if self.current_id is not None else None
        if row is None:
            self.status.clear()
            return
        counts = row.counts
        best = "—" if row.best is None else f"{row.best:.5g}"
        stopped = counts[TrialState.STOPPED]
        cut = f" ({counts.budget_cut} by the time budget)" if counts.budget_cut else ""
        stopping = f"{STOPPING} · " if self.live.model is not None and \
            self.live.model.stopping else ""
        self.status.setText(
            f"{row.record.state.value} · {stopping}running {counts.running} · "
            f"queued {counts[TrialState.QUEUED]} · completed {counts.completed} · "
            f"pruned {counts[TrialState.PRUNED]} · failed {counts.failed}"
            + (f" · stopped {stopped}{cut}" if stopped else "")
            + f" · best {row.kpi_name} {best}"
            + _driven_by(row.record, self.workspace.seen_driven_elsewhere(row.record.id)))

    # --- window state ----------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # a first start: roomy, within the screen (offscreen's 800x600 is no screen)
            size, screen = QSize(1400, 820), self.screen()
            if screen is not None and QGuiApplication.platformName() != "offscreen":
                size = size.boundedTo(screen.availableGeometry().size() * 0.9)
            self.resize(size)
        splitter = self.settings.value("splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)

    def closeEvent(self, event: Any) -> None:
        """Unsaved space edits: Save, Discard or Cancel. Runs going on: stop their
        trials, or leave them running for the next start to take up, or Cancel."""
        if self._closing.done:  # the runs have ended: close now
            self._unsubscribe()
            super().closeEvent(event)
            return
        if self._closing.started:  # still waiting for them
            event.ignore()
            return
        if not self.settle_space_edits():
            event.ignore()
            return
        running = [e for e in self.workspace.experiments() if self.workspace.is_running(e.id)]
        answer = Quitting.STOP
        if running:
            names = ", ".join(repr(e.name) for e in running)
            answer = ask(self, "Quit", f"{len(running)} optimisation(s) running: {names}.",
                         [Quitting.STOP, Quitting.LEAVE, Quitting.CANCEL],
                         informative="Stop their trials now, or leave them running: the "
                         "next start of Sweeplab on this database takes them up again and "
                         "follows them to the end (a paused one stays paused).")
            if answer is Quitting.CANCEL:
                event.ignore()
                return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self._following.stop(timeout=0)  # a look in progress ends on its own
        self.loads.cancel()  # its worker stops at its next batch; closing does not wait
        self.summaries.close()
        if not running:
            self._unsubscribe()
            self.workspace.close()
            super().closeEvent(event)
            return
        # the runs end on a worker thread; the window says so and closes after
        tallies = self.workspace.tallies()
        trials = sum(tallies.get(e.id, TrialTally()).counts.running for e in running)
        leave = answer is Quitting.LEAVE
        self.statusBar().showMessage(waiting_text(trials, leave))
        self.splitter.setEnabled(False)
        for action in self.actions_by_name.values():
            action.setEnabled(False)
        self._closing.finished.connect(self.close)
        self._closing.start(leave=leave)
        event.ignore()


class _AfterFirstPaint(QObject):
    """Calls ``then`` on the event-loop turn after ``window``'s first paint event (the
    paint is on the screen by then), once.

    Args:
        window: the window to watch (it also owns this object).
        then: what to do then.
    """

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._then = window, then
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """At the first paint event: ask for ``then`` once this turn has flushed it."""
        if event.type() == QEvent.Type.Paint and self._window.isVisible():
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self, self._then)
        return False


@contextmanager
def _store_may_fail() -> Iterator[None]:
    """Around what an event makes the window read back: the store busy, or closed before
    the last events were drawn (the workspace closes first), loses only that refresh."""
    try:
        yield
    except StoreError:
        log.debug("reading back after an event failed", exc_info=True)


def _driven_by(record: ExperimentRecord, elsewhere: bool) -> str:
    """`` · run by sweeplab run (pid 4242 on lab-pc)`` for a run another program drives
    (``elsewhere``: as the watcher saw last, which the buttons follow too)."""
    if not elsewhere or record.state not in (ExperimentState.RUNNING, ExperimentState.PAUSED):
        return ""
    driver = other_driver(record.driver)
    return "" if driver is None else f" · run by {driver.describe()}"
