"""The new-optimisation dialog: command, KPI, algorithm, limits, hosts; checked as you type."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.engine.errors import ValidationError
from app.engine.experiment import LOCAL_HOST, ExperimentConfig, experiment_from_dict
from app.engine.schedulers import SchedulerName
from app.engine.search import searcher_problems
from app.engine.search.base import Algorithm, Goal
from app.engine.space.document import space_to_dict
from app.engine.space.nodes import Space

ERROR_STYLE = "color: #c62828;"


class ExperimentDialog(QDialog):
    """Edits an experiment's settings; :meth:`config` gives the validated result.

    The space is not edited here (the Space tab does that); it is passed through.
    ``servers`` are the names of the saved lab servers, offered as hosts beside this
    machine.
    """

    def __init__(self, parent: QWidget | None = None, config: ExperimentConfig | None = None,
                 space: Space | None = None, title: str = "New optimisation",
                 servers: Sequence[str] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._space = space if space is not None else (config.space if config else Space())
        self._config: ExperimentConfig | None = None
        self._base: ExperimentConfig | None = None
        self._errors: dict[str, QLabel] = {}
        form = QFormLayout()

        self.name = QLineEdit("my-experiment")
        self.command = QLineEdit("{python} train.py")
        self.command.setToolTip("Run by sh in the trial's copy of the code. {python}, "
                                "{params_file}, {aup_params} (Auptimizer's file) and "
                                "{dotted.name} placeholders are substituted, "
                                "shell-quoted.")
        self.code_dir = QLineEdit(str(Path.cwd()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_dir)
        code_row.addWidget(browse)
        self.kpi_name = QLineEdit("loss")
        self.goal = _combo([g.value for g in Goal])
        self.kpi_use = _combo(["last", "best"])
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
        self.max_trials = _spin(1, 1_000_000, 20)
        self.max_parallel = _spin(1, 1024, 2)
        self.max_epochs = _spin(0, 10_000_000, 0, "none")
        self.max_trial_seconds = _seconds()
        self.max_seconds = _seconds()
        self.gpus_per_trial = _spin(0, 64, 0)
        self.hosts = QWidget()
        self._hosts_layout = QVBoxLayout(self.hosts)
        self._hosts_layout.setContentsMargins(0, 0, 0, 0)
        self.host_checks: dict[str, QCheckBox] = {}
        self.local_host = self._add_host(LOCAL_HOST, "this machine (local)", checked=True)
        for server in servers:
            if server != LOCAL_HOST:
                self._add_host(server, server, checked=False)

        rows: list[tuple[str, Any, str]] = [
            ("Name", self.name, "name"),
            ("Command", self.command, "command"),
            ("Code directory", code_row, "code_dir"),
            ("KPI name", self.kpi_name, "kpi"),
            ("KPI goal", self.goal, "kpi.goal"),
            ("KPI value", self.kpi_use, "kpi.use"),
            ("Algorithm", self.algorithm, "algorithm"),
            ("Seed", self.seed, "algorithm.seed"),
            ("Initial random trials (TPE)", self.initial_random, "algorithm.initial_random"),
            ("Early stopping", self.scheduler, "scheduler"),
            ("Grace period (steps)", self.grace_period, "scheduler.grace_period"),
            ("Reduction factor η", self.reduction_factor, "scheduler.reduction_factor"),
            ("Max trials", self.max_trials, "limits.max_trials"),
            ("Max parallel", self.max_parallel, "limits.max_parallel"),
            ("Max epochs per trial", self.max_epochs, "limits.max_epochs"),
            ("Max time per trial (s)", self.max_trial_seconds, "limits.max_trial_seconds"),
            ("Max time overall (s)", self.max_seconds, "limits.max_seconds"),
            ("GPUs per trial", self.gpus_per_trial, "gpus_per_trial"),
            ("Hosts", self.hosts, "hosts"),
        ]
        for label, widget, key in rows:
            error = QLabel()
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            error.hide()
            self._errors[key] = error
            cell = QVBoxLayout()
            if isinstance(widget, QHBoxLayout):
                cell.addLayout(widget)
            else:
                cell.addWidget(widget)
            cell.addWidget(error)
            form.addRow(label, cell)
        self.general_error = QLabel()
        self.general_error.setStyleSheet(ERROR_STYLE)
        self.general_error.setWordWrap(True)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)

        if config is not None:
            self.load(config)
        self.algorithm.currentTextChanged.connect(self._algorithm_changed)
        self.scheduler.currentTextChanged.connect(self.validate)
        self._algorithm_changed(self.algorithm.currentText())
        for widget in (self.name, self.command, self.code_dir, self.kpi_name):
            widget.textChanged.connect(self.validate)
        for spin in (self.max_trials, self.max_parallel, self.max_epochs, self.seed,
                     self.initial_random, self.gpus_per_trial, self.grace_period,
                     self.reduction_factor):
            spin.valueChanged.connect(self.validate)
        self.validate()

    def load(self, config: ExperimentConfig) -> None:
        """Show an existing experiment's settings."""
        self.name.setText(config.name)
        self.command.setText(config.command)
        self.code_dir.setText(str(config.code_dir))
        self.kpi_name.setText(config.kpi.name)
        self.goal.setCurrentText(config.kpi.goal.value)
        self.kpi_use.setCurrentText(config.kpi.use.value)
        self.algorithm.setCurrentText(config.algorithm.value)
        self.seed.setValue(config.seed)
        self.initial_random.setValue(-1 if config.initial_random is None
                                     else config.initial_random)
        self.scheduler.setCurrentText(config.scheduler.name.value)
        self.grace_period.setValue(config.scheduler.grace_period)
        self.reduction_factor.setValue(config.scheduler.reduction_factor)
        limits = config.limits
        self.max_trials.setValue(limits.max_trials)
        self.max_parallel.setValue(limits.max_parallel)
        self.max_epochs.setValue(limits.max_epochs or 0)
        self.max_trial_seconds.setValue(limits.max_trial_seconds or 0)
        self.max_seconds.setValue(limits.max_seconds or 0)
        self.gpus_per_trial.setValue(config.gpus_per_trial)
        for name in config.hosts:
            if name not in self.host_checks:
                self._add_host(name, f"{name} (no saved server of that name)", checked=False)
        for name, box in self.host_checks.items():
            box.setChecked(name in config.hosts)
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
        """The experiment document the fields describe."""
        limits: dict[str, Any] = {"max_trials": self.max_trials.value(),
                                  "max_parallel": self.max_parallel.value()}
        if self.max_epochs.value():
            limits["max_epochs"] = self.max_epochs.value()
        if self.max_trial_seconds.value():
            limits["max_trial_seconds"] = self.max_trial_seconds.value()
        if self.max_seconds.value():
            limits["max_seconds"] = self.max_seconds.value()
        doc: dict[str, Any] = self._base.to_dict() if self._base is not None else {}
        doc.update({
            "version": 1, "name": self.name.text().strip(), "code_dir": self.code_dir.text(),
            "command": self.command.text(),
            "kpi": {"name": self.kpi_name.text().strip(), "goal": self.goal.currentText(),
                    "use": self.kpi_use.currentText()},
            "space": space_to_dict(self._space),
            "algorithm": self._algorithm_doc(),
            "scheduler": {"name": self.scheduler.currentText(),
                          "grace_period": self.grace_period.value(),
                          "reduction_factor": self.reduction_factor.value()},
            "limits": limits, "hosts": self.checked_hosts(),
            "gpus_per_trial": self.gpus_per_trial.value(),
        })
        return doc

    def validate(self) -> bool:
        """Check the fields; show each problem beside its field; enable OK when valid."""
        for error in self._errors.values():
            error.hide()
        self.general_error.clear()
        try:
            self._config = experiment_from_dict(self.document(), Path.cwd())
        except ValidationError as exc:
            self._config = None
            general: list[str] = []
            for problem in exc.problems:
                field = self._label_for(problem.path)
                if field is None:
                    general.append(str(problem))
                else:
                    field.setText(problem.message if field.isHidden()
                                  else f"{field.text()}; {problem.message}")
                    field.show()
            self.general_error.setText("\n".join(general))
        else:
            self._check_searcher(self._config)
        if not self.checked_hosts():
            self._errors["hosts"].setText("check at least one host: this machine or a "
                                          "saved server")
            self._errors["hosts"].show()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self._config is not None)
        return self._config is not None

    def _check_searcher(self, config: ExperimentConfig) -> None:
        """Refuse an algorithm that cannot search the space (grid on a continuous number)."""
        problems = searcher_problems(config.algorithm, config.space)
        if problems:
            self._config = None
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._errors["algorithm"].setText(
                f"{config.algorithm.value} cannot search this space: {problems[0]}{more}")
            self._errors["algorithm"].show()

    def _algorithm_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.algorithm.currentText(), "seed": self.seed.value()}
        if self.initial_random.value() >= 0:  # -1 shows "auto"
            doc["initial_random"] = self.initial_random.value()
        return doc

    def _label_for(self, path: str) -> QLabel | None:
        candidates = [key for key in self._errors if path == key or path.startswith(key + ".")]
        return self._errors[max(candidates, key=len)] if candidates else None

    def config(self) -> ExperimentConfig:
        """The validated experiment (call after the dialog was accepted)."""
        if self._config is None:
            raise ValueError("the experiment settings are not valid")
        return self._config

    def _algorithm_changed(self, name: str) -> None:
        self.initial_random.setEnabled(name == Algorithm.TPE.value)
        self.validate()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Code directory", self.code_dir.text())
        if folder:
            self.code_dir.setText(folder)


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


def _seconds() -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0, 10 * 365 * 86400)
    spin.setDecimals(0)
    spin.setSpecialValueText("none")
    return spin
