"""The guided first optimisation: :class:`FirstRunWizard`.

For a new user (no experiment in the database yet) the wizard opens on a welcome
page offering the demo or their own script; Help → "Guided setup…" opens it on the
script page. The steps, in the spirit of Auptimizer's interactive setup:

1. the training script and its code directory (the folder copied to every trial);
2. the KPI: its name and whether lower or higher is better;
3. how the script reports it: the SDK snippet and the print-a-line alternative, each
   with a Copy button.

Finish validates and stores the experiment with the parameters the script reads
through ``sweeplab.param("name", default)`` (a starter lr/batch_size space when it reads
none), which the user then refines in the Space tab; a problem keeps the wizard open
and is shown on the page. The KPI's goal follows its name (``val_acc``: higher is
better) until the user picks one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.engine.errors import ValidationError
from app.engine.experiment import ExperimentConfig, experiment_from_dict, load_experiment
from app.engine.search.base import Goal, goal_for_metric
from app.views.guided import (
    command_for,
    guided_document,
    inside,
    reports_already,
    script_space,
    unique_name,
)
from app.views.help_text import print_line_text, sdk_snippet
from app.views.tasks import EXPECTED

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

ERROR_STYLE = "color: #c62828;"

GOAL_WORDS = {Goal.MIN: "lower is better (a loss, an error)",
              Goal.MAX: "higher is better (an accuracy, a score)"}


class Start(str, Enum):
    """What the welcome page chose."""

    DEMO = "demo"  # explore the demo experiment
    OWN = "own"  # set up the user's own script


class PageId(int, Enum):
    """The wizard's pages, in order."""

    WELCOME = 0
    SCRIPT = 1
    KPI = 2
    REPORT = 3


class _Page(QWizardPage):
    """A page whose Next/Finish is enabled while ``problem()`` is empty; the problem
    shows in red at the bottom. ``on_enter`` and ``on_finish`` stand in for
    QWizardPage's initializePage and validatePage when given."""

    def __init__(self, title: str, subtitle: str,
                 problem: Callable[[], str] = lambda: "", *,
                 on_enter: Callable[[], None] | None = None,
                 on_finish: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self._problem = problem
        self._on_enter = on_enter
        self._on_finish = on_finish
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.body = QVBoxLayout(self)

    def finish_layout(self) -> None:
        """Put the error line last (call after adding the page's widgets)."""
        self.body.addStretch(1)
        self.body.addWidget(self.error)

    def problem(self) -> str:
        """Why the page cannot go on ("" when it can)."""
        return self._problem()

    def recheck(self) -> None:
        """Show the current problem, if any, and refresh the wizard's buttons."""
        self.error.setText(self._problem())
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self._problem()

    def initializePage(self) -> None:
        if self._on_enter is not None:
            self._on_enter()
        self.recheck()

    def validatePage(self) -> bool:
        return self._on_finish() if self._on_finish is not None else True


class FirstRunWizard(QWizard):
    """A guided first optimisation.

    Args:
        create: stores the experiment (``Workspace.create``); its ValueError (a name in
            use, say) is shown on the last page and keeps the wizard open.
        taken: experiment names in use (the suggested name avoids them).
        parent: the main window.
        welcome: start on the welcome page, which offers the demo instead.

    After ``accepted``: :meth:`choice` says what the user picked, and for
    :attr:`Start.OWN`, :attr:`created` is the stored experiment's definition.
    """

    def __init__(self, create: Callable[[ExperimentConfig], object],
                 taken: Iterable[str] = (), parent: QWidget | None = None, *,
                 welcome: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Guided setup" if not welcome else "Welcome to Sweeplab")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self._create = create
        self._taken = list(taken)
        self._auto_command = self._auto_name = True
        self.created: ExperimentConfig | None = None
        self._choice = Start.OWN
        self._build_welcome()
        self._build_script()
        self._build_kpi()
        self._build_report()
        self.setStartId(PageId.WELCOME if welcome else PageId.SCRIPT)
        self.resize(720, 560)

    # --- pages ---------------------------------------------------------------------

    def _build_welcome(self) -> None:
        page = _Page("Welcome to Sweeplab", "Sweeplab runs your training script many "
                     "times with different hyperparameters and finds the best ones.")
        self.demo_button = QPushButton("Open the demo experiment")
        self.demo_button.setToolTip("A quadratic bowl with simulated epochs: press Start "
                                    "and it optimises in a few seconds")
        self.demo_button.clicked.connect(self._open_demo)
        page.body.addWidget(QLabel("See what an optimisation looks like first:"))
        page.body.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignLeft)
        page.body.addSpacing(16)
        own = QLabel("Or press <b>Next</b> to set up your own script in three short steps. "
                     "Both stay at hand: the demo in the list of experiments, the guided "
                     "setup under Help → Guided setup…")
        own.setWordWrap(True)
        page.body.addWidget(own)
        page.finish_layout()
        self.setPage(PageId.WELCOME, page)

    def _open_demo(self) -> None:
        self._choice = Start.DEMO
        self.accept()

    def _build_script(self) -> None:
        page = _Page("Your training script", "Pick the script to optimise. Its code "
                     "directory is copied afresh for every trial, so keep data out of it "
                     "or list it in .sweeplabignore.", self._script_problem)
        self.script = QLineEdit()
        self.script.setPlaceholderText("/path/to/train.py")
        self.code_dir = QLineEdit()
        self.command = QLineEdit()
        self.command.setToolTip("Run by sh in the trial's copy of the code directory; "
                                "{python} is the Python that runs Sweeplab (or a server's)")
        self.name = QLineEdit(unique_name("my-experiment", self._taken))
        form = QFormLayout()
        form.addRow("Script", _with_button(self.script, "Browse…", self.browse_script))
        form.addRow("Code directory", _with_button(self.code_dir, "Browse…",
                                                   self.browse_code_dir))
        form.addRow("Command", self.command)
        form.addRow("Experiment name", self.name)
        page.body.addLayout(form)
        page.finish_layout()
        self.script.textChanged.connect(self._script_changed)
        self.code_dir.textChanged.connect(self._script_changed)
        self.command.textEdited.connect(lambda _t: self._user_edited("command"))
        self.name.textEdited.connect(lambda _t: self._user_edited("name"))
        for edit in (self.command, self.name):
            edit.textChanged.connect(lambda _t: page.recheck())
        self._script_page = page
        self.setPage(PageId.SCRIPT, page)

    def _build_kpi(self) -> None:
        page = _Page("What to optimise", "The KPI is the one metric that says how good "
                     "a trial is. Your script reports it under this name.",
                     self._kpi_problem)
        self.kpi_name = QLineEdit("loss")
        self.goal = QComboBox()
        for goal, words in GOAL_WORDS.items():
            self.goal.addItem(words, goal)
        self._goal_picked = False
        self.goal.activated.connect(lambda _row: setattr(self, "_goal_picked", True))
        self.kpi_name.textChanged.connect(self._kpi_changed)
        form = QFormLayout()
        form.addRow("KPI name", self.kpi_name)
        form.addRow("Goal", self.goal)
        page.body.addLayout(form)
        page.finish_layout()
        self.kpi_name.textChanged.connect(lambda _t: page.recheck())
        self.setPage(PageId.KPI, page)

    def _build_report(self) -> None:
        page = _Page("Report the KPI from your script",
                     "Paste these lines where your script knows the value (each epoch, "
                     "or once at the end). Help → Reporting metrics shows every way.",
                     on_enter=self._fill_report, on_finish=self._finish)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.sdk_text = QPlainTextEdit()
        self.line_text = QLineEdit()
        for widget in (self.sdk_text, self.line_text):
            widget.setReadOnly(True)
            widget.setFont(mono)
        self.sdk_copy = QPushButton("Copy")
        self.sdk_copy.clicked.connect(lambda: self._copy(self.sdk_text.toPlainText()))
        self.line_copy = QPushButton("Copy")
        self.line_copy.clicked.connect(lambda: self._copy(self.line_text.text()))
        self.already = QLabel()
        self.already.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        page.body.addWidget(QLabel("Python, with the SDK (nothing to install):"))
        page.body.addLayout(_with_widget(self.sdk_text, self.sdk_copy))
        page.body.addWidget(QLabel("Any language: print this line to stdout and flush:"))
        page.body.addLayout(_with_widget(self.line_text, self.line_copy))
        page.body.addWidget(self.already)
        page.body.addWidget(self.summary)
        page.finish_layout()
        self._report_page = page
        self.setPage(PageId.REPORT, page)

    # --- behaviour -------------------------------------------------------------------

    def choice(self) -> Start:
        """DEMO when the welcome page's demo button was pressed, else OWN."""
        return self._choice

    def problem(self) -> str:
        """Why the current page cannot go on ("" when it can), or the reason Finish
        was refused."""
        page = self.currentPage()
        if not isinstance(page, _Page):
            return ""
        return page.problem() or page.error.text()

    def browse_script(self) -> None:
        """Pick the script with a file dialog."""
        start = self.script.text() or str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Your training script", start,
                                                "Scripts (*.py *.sh);;All files (*)")
        if chosen:
            self.script.setText(chosen)

    def browse_code_dir(self) -> None:
        """Pick the code directory with a folder dialog."""
        start = self.code_dir.text() or str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Code directory", start)
        if chosen:
            self.code_dir.setText(chosen)

    def document(self) -> dict[str, Any]:
        """The experiment document the answers describe."""
        return guided_document(self.name.text(), self.code_dir.text(), self.command.text(),
                               self.kpi_name.text(), Goal(self.goal.currentData()),
                               self.script_space())

    def _kpi_changed(self, name: str) -> None:
        """The goal follows the KPI's name until the user picks one."""
        if not self._goal_picked:
            self.goal.setCurrentIndex(self.goal.findData(goal_for_metric(name)))

    def script_space(self) -> dict[str, Any] | None:
        """The space the script's ``sweeplab.param`` calls propose (None: none found)."""
        path = Path(self.script.text().strip()).expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return script_space(text, path.name)

    def _user_edited(self, which: str) -> None:
        if which == "command":
            self._auto_command = False
        else:
            self._auto_name = False

    def _script_changed(self) -> None:
        script = Path(self.script.text().strip()).expanduser()
        if self.sender() is self.script and script.is_file():
            folder = Path(self.code_dir.text().strip()).expanduser()
            if not self.code_dir.text().strip() or not inside(script, folder):
                self.code_dir.setText(str(script.parent))  # comes back here
                return
        code_dir = Path(self.code_dir.text().strip()).expanduser()
        if self._auto_command and script.is_file() and inside(script, code_dir):
            self.command.setText(command_for(script, code_dir))
        if self._auto_name and script.name:
            stem = code_dir.name if code_dir.name and inside(script, code_dir) else script.stem
            self.name.setText(unique_name(stem, self._taken))
        self._script_page.recheck()

    def _script_problem(self) -> str:
        text, folder = self.script.text().strip(), self.code_dir.text().strip()
        script, code_dir = Path(text).expanduser(), Path(folder).expanduser()
        if not text:
            return "pick your training script"
        if not script.is_file():
            return f"{script} is not a file"
        if not folder or not code_dir.is_dir():
            return f"the code directory {code_dir} is not a directory"
        if not inside(script, code_dir):
            return (f"the script is not inside the code directory {code_dir}: only that "
                    "folder is copied to each trial")
        if not self.command.text().strip():
            return "the command is empty"
        name = self.name.text().strip()
        if not name:
            return "the experiment needs a name"
        if name in self._taken:
            return f"an experiment named {name!r} already exists"
        return ""

    def _kpi_problem(self) -> str:
        name = self.kpi_name.text().strip()
        if not name:
            return "name the KPI your script reports, e.g. loss or val_acc"
        if len(name) > 200:
            return "the KPI name is longer than 200 characters"
        return ""

    def _fill_report(self) -> None:
        kpi = self.kpi_name.text().strip()
        self.sdk_text.setPlainText(sdk_snippet(kpi))
        self.line_text.setText(print_line_text(kpi))
        self.line_text.setCursorPosition(0)
        try:
            text = Path(self.script.text().strip()).expanduser().read_text(errors="replace")
        except OSError:
            text = ""
        self.already.setText("✓ Your script seems to report metrics already."
                             if reports_already(text) else "")
        space = self.script_space()
        name = self.name.text().strip()
        if space is None:
            self.summary.setText(
                f"Finish creates the experiment “{name}” with a starter space (lr, "
                "batch_size): your script reads no sweeplab.param(\"name\", default), so "
                "change it in the Space tab to the parameters it reads, then press Start.")
        else:
            names = ", ".join(n["name"] for n in space["space"])
            self.summary.setText(
                f"Finish creates the experiment “{name}” searching the parameters your "
                f"script reads ({names}), with ranges proposed from their names and "
                "defaults: check them in the Space tab, then press Start.")
        self._report_page.error.clear()

    def _finish(self) -> bool:
        """Validate and store the experiment; False (and the reason shown) keeps the
        wizard open."""
        try:
            config = experiment_from_dict(self.document(), Path.cwd())
            self._create(config)
        except ValidationError as exc:
            self._report_page.error.setText("; ".join(str(p) for p in exc.problems))
            return False
        except EXPECTED as exc:  # a name taken meanwhile, the database locked…
            self._report_page.error.setText(str(exc))
            return False
        self.created = config
        return True

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self._report_page.error.clear()


def open_guided_setup(window: MainWindow, welcome: bool = False) -> FirstRunWizard:
    """Open the wizard over ``window`` (window-modal, not blocking); when it finishes,
    select the experiment it made, or the demo."""
    workspace = window.workspace
    wizard = FirstRunWizard(workspace.create, [e.name for e in workspace.experiments()], window,
                            welcome=welcome)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def finished() -> None:
        if wizard.choice() is Start.DEMO:
            open_demo(window)
        elif wizard.created is not None:
            window.reload_experiments(select_name=wizard.created.name)
            window.tabs.setCurrentWidget(window.panels.space)
            window.statusBar().showMessage("edit the space to the parameters your script "
                                           "reads, then press Start", 10_000)

    wizard.accepted.connect(finished)
    wizard.open()
    return wizard


def open_demo(window: MainWindow) -> None:
    """Select the demo experiment in ``window``, storing it first when it is missing."""
    from app.application.demo import DEMO_EXPERIMENT

    workspace = window.workspace
    try:
        config = load_experiment(DEMO_EXPERIMENT)
        if config.name not in {e.name for e in workspace.experiments()}:
            workspace.create(config)
    except EXPECTED as exc:
        QMessageBox.warning(window, "Sweeplab", f"cannot open the demo: {exc}")
        return
    window.reload_experiments(select_name=config.name)


def _with_button(edit: QLineEdit, text: str, slot: Callable[[], None]) -> QHBoxLayout:
    button = QPushButton(text)
    button.clicked.connect(slot)
    return _with_widget(edit, button)


def _with_widget(main: QWidget, side: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(main, 1)
    row.addWidget(side)
    return row
