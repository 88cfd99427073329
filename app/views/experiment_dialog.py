"""The new-optimisation and Settings dialog: every field an experiment file has but the
space (the Space tab edits that), checked as you type.

Four tabs: **General** (name, command, code directory, KPI, hosts, GPUs, the code
snapshot), **Search** (algorithm and early stopping), **Limits** (trials, time,
retries) and **Trial environment** (environment variables, metric regexes). Each field
has a :class:`~app.views.validation.ValidationLine` under it whose space is kept while
it is empty, so nothing moves as messages come and go; a tab holding a problem shows
it in its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.application.folders import home_folder
from app.engine.errors import Problem, ValidationError
from app.engine.experiment import (
    LOCAL_HOST,
    ExperimentConfig,
    experiment_from_dict,
    identical_trials_problem,
)
from app.engine.schedulers import SchedulerName
from app.engine.search import searcher_problems
from app.engine.search.base import Algorithm, Goal
from app.engine.space.document import space_to_dict
from app.engine.space.nodes import Space
from app.views.validation import ValidationLine

PROBLEM_MARK = " ⚠"
"""Added to the title of a tab that holds a problem."""
ENV_COLUMNS = ("Name", "Value")
METRIC_COLUMNS = ("Name", "Regex", "Step regex (optional)")
METRIC_KEYS = ("name", "regex", "step_regex")


class KeyValueTable(QTableWidget):
    """Rows of texts with Add and Remove buttons; an all-empty row is ignored."""

    def __init__(self, headers: Sequence[str]) -> None:
        super().__init__(0, len(headers))
        self.setHorizontalHeaderLabels(list(headers))
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setMinimumHeight(110)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self.remove_selected)

    def add_row(self, values: Sequence[str] = ()) -> int:
        """Append a row holding ``values`` (empty cells for the rest); returns its index."""
        row = self.rowCount()
        self.insertRow(row)
        for column in range(self.columnCount()):
            text = values[column] if column < len(values) else ""
            self.setItem(row, column, QTableWidgetItem(text))
        first = self.item(row, 0)
        if not values and first is not None:
            self.setCurrentCell(row, 0)
            self.editItem(first)
        return row

    def remove_selected(self) -> None:
        """Remove the selected rows (the current one when none is selected)."""
        rows = {index.row() for index in self.selectedIndexes()} or {self.currentRow()}
        for row in sorted((r for r in rows if r >= 0), reverse=True):
            self.removeRow(row)

    def rows(self) -> list[tuple[str, ...]]:
        """Every row that is not all empty, as texts."""
        out: list[tuple[str, ...]] = []
        for row in range(self.rowCount()):
            cells = tuple((item.text() if (item := self.item(row, c)) is not None else "")
                          for c in range(self.columnCount()))
            if any(cells):
                out.append(cells)
        return out

    def set_rows(self, rows: Sequence[Sequence[str]]) -> None:
        """Replace every row."""
        self.setRowCount(0)
        for values in rows:
            self.add_row(values)

    def buttons(self) -> QHBoxLayout:
        """Add and Remove, for under the table."""
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        return row


class ExperimentDialog(QDialog):
    """Edits an experiment's settings; :meth:`config` gives the validated result.

    The space is not edited here (the Space tab does that); it is passed through.
    ``servers`` are the names of the saved lab servers, offered as hosts beside this
    machine. ``code_dir`` is the code directory a new experiment starts with (the
    caller's remembered one); without it, the user's home folder, never the folder the
    app was started from. A relative code directory is read from the home folder too.
    """

    def __init__(self, parent: QWidget | None = None, config: ExperimentConfig | None = None,
                 space: Space | None = None, title: str = "New optimisation",
                 servers: Sequence[str] = (), code_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(640)
        self._space = space if space is not None else (config.space if config else Space())
        self._config: ExperimentConfig | None = None
        self._base: ExperimentConfig | None = None
        self._errors: dict[str, ValidationLine] = {}
        self._tab_of: dict[str, int] = {}

        self.name = QLineEdit("my-experiment")
        self.command = QLineEdit("{python} train.py")
        self.command.setToolTip("Run by sh in the trial's copy of the code. {python}, "
                                "{params_file}, {aup_params} (Auptimizer's file) and "
                                "{dotted.name} placeholders are substituted, "
                                "shell-quoted.")
        self.code_dir = QLineEdit(str(code_dir if code_dir is not None else home_folder()))
        self.code_dir.setToolTip("The folder snapshotted at the first start; a relative "
                                 "path is read from your home folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_dir)
        code_row.addWidget(browse)
        self.kpi_name = QLineEdit("loss")
        self.goal = _combo([g.value for g in Goal])
        self.kpi_use = _combo(["last", "best"])
        self.include_uncommitted = QCheckBox("Include uncommitted changes (git) in the code "
                                             "snapshot")
        self.include_uncommitted.setChecked(True)
        self.algorithm = _combo([a.value for a in Algorithm], Algorithm.TPE.value)
        self.seed = _spin(0, 2**31 - 1, 0)
        self.initial_random = _spin(-1, 10_000, -1, "auto")
        self.initial_random.setToolTip(
            "Random trials before TPE starts modelling. auto: 20, or 5 with early "
            "stopping (a bad suggestion then costs only its first rung)")
        self.scheduler = _combo([n.value for n in SchedulerName], SchedulerName.FIFO.value)
        self.scheduler.setToolTip("Early stopping: asha and hyperband need max epochs")
        self.grace_period = _spin(1, 1_000_000, 1)
        self.reduction_factor = _spin(2, 100, 3)
        self.min_trials = _spin(1, 1_000_000, 3)
        self.min_trials.setToolTip("median: trials that must have reached a step before "
                                   "one is stopped there")
        self.pbt_interval = _spin(1, 1_000_000, 4)
        self.pbt_interval.setToolTip("pbt: steps between a trial's exploit decisions")
        self.pbt_quantile = _fraction(0.01, 0.5, 0.25)
        self.pbt_quantile.setToolTip("pbt: the bottom fraction copies the top fraction")
        self.pbt_resample = _fraction(0.0, 1.0, 0.25)
        self.pbt_resample.setToolTip("pbt: how often a mutated parameter is drawn afresh")
        self.pbt_mutations = QLineEdit()
        self.pbt_mutations.setPlaceholderText("lr=perturb, momentum=resample, act=neighbours")
        self.pbt_mutations.setToolTip(
            "pbt: the parameters that change at an exploit (paths as in the space), each "
            "=perturb (a number x0.8 or x1.2), =resample or =neighbours (a choice); the "
            "population is Max parallel. A group or a choice of groups stays fixed: PBT "
            "cannot swap architectures")
        self.max_trials = _spin(1, 1_000_000, 20)
        self.max_parallel = _spin(1, 1024, 2)
        self.max_epochs = _spin(0, 10_000_000, 0, "none")
        self.max_trial_seconds = _seconds()
        self.max_seconds = _seconds()
        self.max_seconds.setToolTip("The whole experiment's budget: trials still running "
                                    "then are cut (stopped)")
        self.retries = _spin(0, 100, 0)
        self.retries.setToolTip("How often a failed trial runs again with the same params "
                                "(on another host first)")
        self.gpus_per_trial = _spin(0, 64, 0)
        self.hosts = QWidget()
        self._hosts_layout = QVBoxLayout(self.hosts)
        self._hosts_layout.setContentsMargins(0, 0, 0, 0)
        self.host_checks: dict[str, QCheckBox] = {}
        self.local_host = self._add_host(LOCAL_HOST, "this machine (local)", checked=True)
        for server in servers:
            if server != LOCAL_HOST:
                self._add_host(server, server, checked=False)
        self.env = KeyValueTable(ENV_COLUMNS)
        self.env.setToolTip("Extra environment variables for every trial")
        self.metrics = KeyValueTable(METRIC_COLUMNS)
        self.metrics.setToolTip("Metrics read from the trial's plain log lines (SageMaker "
                                "style): the regex's first group is the value, the step "
                                "regex's first group the step; e.g. name val_acc, regex "
                                "val_acc=([0-9.]+), step regex epoch=(\\d+)")

        self.tabs = QTabWidget()
        pages: list[tuple[str, list[tuple[str, Any, str]]]] = [
            ("General", [
                ("Name", self.name, "name"),
                ("Command", self.command, "command"),
                ("Code directory", code_row, "code_dir"),
                ("Code snapshot", self.include_uncommitted, "include_uncommitted"),
                ("KPI name", self.kpi_name, "kpi"),
                ("KPI goal", self.goal, "kpi.goal"),
                ("KPI value", self.kpi_use, "kpi.use"),
                ("Hosts", self.hosts, "hosts"),
                ("GPUs per trial", self.gpus_per_trial, "gpus_per_trial"),
            ]),
            ("Search", [
                ("Algorithm", self.algorithm, "algorithm"),
                ("Seed", self.seed, "algorithm.seed"),
                ("Initial random trials (TPE)", self.initial_random,
                 "algorithm.initial_random"),
                ("Early stopping", self.scheduler, "scheduler"),
                ("Grace period (steps)", self.grace_period, "scheduler.grace_period"),
                ("Reduction factor η", self.reduction_factor, "scheduler.reduction_factor"),
                ("Min trials (median)", self.min_trials, "scheduler.min_trials"),
                ("PBT interval (steps)", self.pbt_interval, "scheduler.interval"),
                ("PBT quantile", self.pbt_quantile, "scheduler.quantile"),
                ("PBT resample probability", self.pbt_resample,
                 "scheduler.resample_probability"),
                ("PBT mutations", self.pbt_mutations, "scheduler.mutations"),
            ]),
            ("Limits", [
                ("Max trials", self.max_trials, "limits.max_trials"),
                ("Max parallel", self.max_parallel, "limits.max_parallel"),
                ("Max epochs per trial", self.max_epochs, "limits.max_epochs"),
                ("Max time per trial (s)", self.max_trial_seconds, "limits.max_trial_seconds"),
                ("Max time overall (s)", self.max_seconds, "limits.max_seconds"),
                ("Retries of a failed trial", self.retries, "retries"),
            ]),
            ("Trial environment", [
                ("Environment variables", _with_buttons(self.env), "env"),
                ("Metric regexes", _with_buttons(self.metrics), "metrics"),
            ]),
        ]
        for index, (title_text, rows) in enumerate(pages):
            page = QWidget()
            form = QFormLayout(page)
            for label, widget, key in rows:
                error = ValidationLine()
                self._errors[key] = error
                self._tab_of[key] = index
                cell = QVBoxLayout()
                cell.setSpacing(0)
                if isinstance(widget, QHBoxLayout | QVBoxLayout):
                    cell.addLayout(widget)
                else:
                    cell.addWidget(widget)
                cell.addWidget(error)
                form.addRow(label, cell)
            self.tabs.addTab(page, title_text)
        self._titles = [title for title, _ in pages]
        self.space_note = ValidationLine(warning=True)
        """Says, without blocking OK, why Start would refuse the space as it is."""
        self.general_error = ValidationLine()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.space_note)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)

        if config is not None:
            self.load(config)
        self.algorithm.currentTextChanged.connect(self._algorithm_changed)
        self.scheduler.currentTextChanged.connect(self._scheduler_changed)
        for line in (self.name, self.command, self.code_dir, self.kpi_name):
            line.textChanged.connect(self.validate)
        for combo in (self.goal, self.kpi_use):
            combo.currentTextChanged.connect(self.validate)
        for spin in (self.max_trials, self.max_parallel, self.max_epochs, self.seed,
                     self.initial_random, self.gpus_per_trial, self.grace_period,
                     self.reduction_factor, self.min_trials, self.retries,
                     self.max_trial_seconds, self.max_seconds, self.pbt_interval,
                     self.pbt_quantile, self.pbt_resample):
            spin.valueChanged.connect(self.validate)
        self.pbt_mutations.textChanged.connect(self.validate)
        self.include_uncommitted.toggled.connect(self.validate)
        for table in (self.env, self.metrics):
            table.itemChanged.connect(self.validate)
            table.model().rowsRemoved.connect(self.validate)
        self._algorithm_changed(self.algorithm.currentText())
        self._scheduler_changed(self.scheduler.currentText())

    def load(self, config: ExperimentConfig) -> None:
        """Show an existing experiment's settings."""
        self.name.setText(config.name)
        self.command.setText(config.command)
        self.code_dir.setText(str(config.code_dir))
        self.kpi_name.setText(config.kpi.name)
        self.goal.setCurrentText(config.kpi.goal.value)
        self.kpi_use.setCurrentText(config.kpi.use.value)
        self.include_uncommitted.setChecked(config.include_uncommitted)
        self.algorithm.setCurrentText(config.algorithm.value)
        self.seed.setValue(config.seed)
        self.initial_random.setValue(-1 if config.initial_random is None
                                     else config.initial_random)
        self.scheduler.setCurrentText(config.scheduler.name.value)
        self.grace_period.setValue(config.scheduler.grace_period)
        self.reduction_factor.setValue(config.scheduler.reduction_factor)
        self.min_trials.setValue(config.scheduler.min_trials)
        pbt = config.scheduler.pbt
        self.pbt_interval.setValue(pbt.interval)
        self.pbt_quantile.setValue(pbt.quantile)
        self.pbt_resample.setValue(pbt.resample_probability)
        self.pbt_mutations.setText(", ".join(f"{path}={m.kind.value}"
                                             for path, m in pbt.mutations))
        limits = config.limits
        self.max_trials.setValue(limits.max_trials)
        self.max_parallel.setValue(limits.max_parallel)
        self.max_epochs.setValue(limits.max_epochs or 0)
        self.max_trial_seconds.setValue(limits.max_trial_seconds or 0)
        self.max_seconds.setValue(limits.max_seconds or 0)
        self.retries.setValue(config.retries)
        self.gpus_per_trial.setValue(config.gpus_per_trial)
        for name in config.hosts:
            if name not in self.host_checks:
                self._add_host(name, f"{name} (no saved server of that name)", checked=False)
        for name, box in self.host_checks.items():
            box.setChecked(name in config.hosts)
        self.env.set_rows([(key, value) for key, value in config.env.items()])
        self.metrics.set_rows([tuple(spec.get(key, "") for key in METRIC_KEYS)
                               for spec in config.metric_specs])
        self._base = config

    def _add_host(self, name: str, label: str, *, checked: bool) -> QCheckBox:
        box = QCheckBox(label)
        box.setChecked(checked)
        box.toggled.connect(self.validate)
        self.host_checks[name] = box
        self._hosts_layout.addWidget(box)
        return box

    def checked_hosts(self) -> list[str]:
        """The checked hosts, this machine first, then the servers as listed."""
        return [name for name, box in self.host_checks.items() if box.isChecked()]

    def document(self) -> dict[str, Any]:
        """The experiment document the fields describe (the experiment file's fields)."""
        limits: dict[str, Any] = {"max_trials": self.max_trials.value(),
                                  "max_parallel": self.max_parallel.value()}
        if self.max_epochs.value():
            limits["max_epochs"] = self.max_epochs.value()
        if self.max_trial_seconds.value():
            limits["max_trial_seconds"] = self.max_trial_seconds.value()
        if self.max_seconds.value():
            limits["max_seconds"] = self.max_seconds.value()
        doc: dict[str, Any] = self._base.to_dict() if self._base is not None else {}
        pbt = (self._pbt_doc(doc.get("scheduler", {}))
               if self.scheduler.currentText() == SchedulerName.PBT.value else {})
        doc.update({
            "version": 1, "name": self.name.text().strip(), "code_dir": self.code_dir.text(),
            "command": self.command.text(),
            "kpi": {"name": self.kpi_name.text().strip(), "goal": self.goal.currentText(),
                    "use": self.kpi_use.currentText()},
            "space": space_to_dict(self._space),
            "algorithm": self._algorithm_doc(),
            "scheduler": {"name": self.scheduler.currentText(),
                          "grace_period": self.grace_period.value(),
                          "reduction_factor": self.reduction_factor.value(),
                          "min_trials": self.min_trials.value(), **pbt},
            "limits": limits, "hosts": self.checked_hosts(),
            "gpus_per_trial": self.gpus_per_trial.value(),
            "env": {name.strip(): value for name, value in self.env.rows()},
            "metrics": [{key: value for key, value in zip(METRIC_KEYS, row, strict=True)
                         if value or key != "step_regex"} for row in self.metrics.rows()],
            "include_uncommitted": self.include_uncommitted.isChecked(),
            "retries": self.retries.value(),
        })
        return doc

    def _pbt_doc(self, base: dict[str, Any]) -> dict[str, Any]:
        """The PBT fields of the scheduler section; a mutation's factors and the PBT seed
        of the experiment edited are kept (the dialog does not show them)."""
        factors = {path: item.get("factors") for path, item in
                   (base.get("mutations") or {}).items() if isinstance(item, dict)}
        mutations: dict[str, Any] = {}
        for item in self.pbt_mutations.text().split(","):
            path, _, kind = item.partition("=")
            if path.strip():
                entry: dict[str, Any] = {"kind": kind.strip() or "perturb"}
                if factors.get(path.strip()) is not None:
                    entry["factors"] = factors[path.strip()]
                mutations[path.strip()] = entry
        doc: dict[str, Any] = {"interval": self.pbt_interval.value(),
                               "quantile": round(self.pbt_quantile.value(), 4),
                               "resample_probability": round(self.pbt_resample.value(), 4),
                               "mutations": mutations}
        if "seed" in base:
            doc["seed"] = base["seed"]
        return doc

    def _table_problems(self) -> list[Problem]:
        """What the document cannot say: a variable set twice is one key in it."""
        names = [name.strip() for name, _ in self.env.rows()]
        twice = sorted({name for name in names if names.count(name) > 1})
        return [Problem("env", f"{name!r} is set twice") for name in twice]

    def validate(self) -> bool:
        """Check the fields; show each problem under its field; enable OK when valid."""
        for error in self._errors.values():
            error.set_message("")
        general: list[str] = []
        self.space_note.set_message("")
        problems = self._table_problems()
        try:
            config = experiment_from_dict(self.document(), home_folder())
        except ValidationError as exc:
            self._config = None
            problems = [*problems, *exc.problems]
        else:
            self._config = config
            self._check_searcher(config)
            repeat = identical_trials_problem(config)
            if repeat is not None:
                self.space_note.set_message(f"Start will refuse this: {repeat.message}")
        if problems:
            self._config = None
        for problem in problems:
            field = self._label_for(problem.path)
            if field is None:
                general.append(str(problem))
            else:
                field.add_message(problem.message)
        if not self.checked_hosts():
            self._errors["hosts"].set_message("check at least one host: this machine or a "
                                              "saved server")
        self.general_error.set_message("; ".join(general))
        self._mark_tabs()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self._config is not None)
        return self._config is not None

    def _mark_tabs(self) -> None:
        wrong = {self._tab_of[key] for key, line in self._errors.items() if line.message()}
        for index, title in enumerate(self._titles):
            self.tabs.setTabText(index, title + (PROBLEM_MARK if index in wrong else ""))

    def _check_searcher(self, config: ExperimentConfig) -> None:
        """Refuse an algorithm that cannot search the space (grid on a continuous number)."""
        problems = searcher_problems(config.algorithm, config.space)
        if problems:
            self._config = None
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._errors["algorithm"].set_message(
                f"{config.algorithm.value} cannot search this space: {problems[0]}{more}")

    def _algorithm_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.algorithm.currentText(), "seed": self.seed.value()}
        if self.initial_random.value() >= 0:  # -1 shows "auto"
            doc["initial_random"] = self.initial_random.value()
        return doc

    def _label_for(self, path: str) -> ValidationLine | None:
        key = path.split("[", 1)[0]  # metrics[2] -> metrics
        candidates = [k for k in self._errors if key == k or key.startswith(k + ".")]
        return self._errors[max(candidates, key=len)] if candidates else None

    def config(self) -> ExperimentConfig:
        """The validated experiment (call after the dialog was accepted)."""
        if self._config is None:
            raise ValueError("the experiment settings are not valid")
        return self._config

    def _algorithm_changed(self, name: str) -> None:
        self.initial_random.setEnabled(name == Algorithm.TPE.value)
        self.validate()

    def _scheduler_changed(self, name: str) -> None:
        self.min_trials.setEnabled(name == SchedulerName.MEDIAN.value)
        self.reduction_factor.setEnabled(name in (SchedulerName.ASHA.value,
                                                  SchedulerName.HYPERBAND.value))
        self.grace_period.setEnabled(name not in (SchedulerName.FIFO.value,
                                                  SchedulerName.PBT.value))
        for field in (self.pbt_interval, self.pbt_quantile, self.pbt_resample,
                      self.pbt_mutations):
            field.setEnabled(name == SchedulerName.PBT.value)
        self.validate()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Code directory", self.code_dir.text())
        if folder:
            self.code_dir.setText(folder)


def _with_buttons(table: KeyValueTable) -> QVBoxLayout:
    box = QVBoxLayout()
    box.addWidget(table)
    box.addLayout(table.buttons())
    return box


def _combo(items: list[str], current: str | None = None) -> QComboBox:
    combo = QComboBox()
    combo.addItems(items)
    if current is not None:
        combo.setCurrentText(current)
    return combo


def _spin(low: int, high: int, value: int, special: str | None = None) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if special:
        spin.setSpecialValueText(special)
    return spin


def _fraction(low: float, high: float, value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(2)
    spin.setSingleStep(0.05)
    spin.setValue(value)
    return spin


def _seconds() -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0, 10 * 365 * 86400)
    spin.setDecimals(0)
    spin.setSpecialValueText("none")
    return spin
