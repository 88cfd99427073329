"""The experiment file: what to run, what to optimise, how, where, and within what limits.

::

    version: 1
    name: quadratic-demo
    code_dir: .                       # relative to this file
    command: "{python} train.py"      # {python}: the Python that runs Sweeplab
    kpi: {name: loss, goal: min, use: last}
    space: space.yaml                 # a path, or the space document inline
    algorithm: {name: tpe, seed: 1, initial_random: 10}   # initial_random: auto if absent
    scheduler: {name: asha, grace_period: 1, reduction_factor: 3}  # fifo, hyperband, median, pbt
    limits: {max_trials: 30, max_parallel: 2, max_epochs: 20,
             max_trial_seconds: 600, max_seconds: 3600}
    hosts: [local]
    gpus_per_trial: 0
    metrics:                          # regexes over log lines (optional)
      - {name: loss, regex: 'loss=([0-9.eE+-]+)', step_regex: 'epoch=(\\d+)'}
    env: {OMP_NUM_THREADS: "1"}
    include_uncommitted: true
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from app.engine.doc_reader import DocReader
from app.engine.docio import load_file
from app.engine.errors import Problem, ValidationError
from app.engine.names import name_problem
from app.engine.protocol import (
    AUP_PARAMS_PLACEHOLDER,
    PARAMS_FILE_PLACEHOLDER,
    PYTHON_PLACEHOLDER,
    MetricRegex,
    placeholders,
    unsendable,
)
from app.engine.schedulers import SchedulerConfig, SchedulerName
from app.engine.schedulers.pbt import (
    PBT_FIELDS,
    PbtSettings,
    mutation_problems,
    read_settings,
)
from app.engine.search.base import Algorithm, Goal
from app.engine.search.hyperopt_searcher import (
    DEFAULT_INITIAL_RANDOM,
    EARLY_STOPPING_INITIAL_RANDOM,
)
from app.engine.space.document import describe, space_to_dict
from app.engine.space.files import space_from_document
from app.engine.space.nodes import Space

EXPERIMENT_VERSION = 1
LOCAL_HOST = "local"
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""``local`` or a saved server's name (the same rule as a server profile's name)."""


class ExperimentError(ValidationError):
    """The experiment file is invalid."""


class KpiUse(str, Enum):
    """Which of a trial's KPI values counts as its result."""

    LAST = "last"
    BEST = "best"


@dataclass(frozen=True)
class Kpi:
    """The metric to optimise."""

    name: str
    goal: Goal = Goal.MIN
    use: KpiUse = KpiUse.LAST


@dataclass(frozen=True)
class Limits:
    """When to stop starting trials, and when to stop a trial."""

    max_trials: int = 20
    max_parallel: int = 1
    max_epochs: int | None = None
    max_trial_seconds: float | None = None
    max_seconds: float | None = None


def default_random_start(scheduler: SchedulerName) -> int:
    """TPE's random start for an experiment that does not set ``initial_random``."""
    if scheduler is SchedulerName.FIFO:
        return DEFAULT_INITIAL_RANDOM
    return EARLY_STOPPING_INITIAL_RANDOM


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment. ``code_dir`` is absolute."""

    name: str
    code_dir: Path
    command: str
    kpi: Kpi
    space: Space
    algorithm: Algorithm = Algorithm.TPE
    seed: int = 0
    initial_random: int | None = None
    """TPE's random start; None is auto (see :attr:`random_start`)."""
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    limits: Limits = field(default_factory=Limits)
    hosts: tuple[str, ...] = (LOCAL_HOST,)
    gpus_per_trial: int = 0
    metrics: tuple[MetricRegex, ...] = ()
    metric_specs: tuple[dict[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    include_uncommitted: bool = True
    retries: int = 0
    """How often a failed trial runs again with the same params (on another host first)."""

    @property
    def random_start(self) -> int:
        """TPE's random trials before it models: as set, else 20, or 5 under early stopping."""
        if self.initial_random is not None:
            return self.initial_random
        return default_random_start(self.scheduler.name)

    def _algorithm_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.algorithm.value, "seed": self.seed}
        if self.initial_random is not None:
            doc["initial_random"] = self.initial_random
        return doc

    def _scheduler_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.scheduler.name.value,
                               "grace_period": self.scheduler.grace_period,
                               "reduction_factor": self.scheduler.reduction_factor,
                               "min_trials": self.scheduler.min_trials}
        if self.scheduler.name is SchedulerName.PBT:
            doc["population"] = self.limits.max_parallel
            doc.update(self.scheduler.pbt.to_dict())
        return doc

    def to_dict(self) -> dict[str, Any]:
        """The canonical document, space inline: what the database keeps."""
        limits = {k: v for k, v in vars(self.limits).items() if v is not None}
        return {
            "version": EXPERIMENT_VERSION,
            "name": self.name,
            "code_dir": str(self.code_dir),
            "command": self.command,
            "kpi": {"name": self.kpi.name, "goal": self.kpi.goal.value, "use": self.kpi.use.value},
            "space": space_to_dict(self.space),
            "algorithm": self._algorithm_dict(),
            "scheduler": self._scheduler_dict(),
            "limits": limits,
            "hosts": list(self.hosts),
            "gpus_per_trial": self.gpus_per_trial,
            "metrics": [dict(m) for m in self.metric_specs],
            "env": dict(self.env),
            "include_uncommitted": self.include_uncommitted,
            "retries": self.retries,
        }


_TOP = {"version", "name", "code_dir", "command", "kpi", "space", "algorithm", "scheduler",
        "limits", "hosts", "gpus_per_trial", "metrics", "env", "include_uncommitted",
        "retries"}
_LIMITS = {"max_trials", "max_parallel", "max_epochs", "max_trial_seconds", "max_seconds"}


def experiment_from_dict(doc: object, base_dir: Path, source: str = "") -> ExperimentConfig:
    """Validate an experiment document; relative paths are read from ``base_dir``.

    Raises:
        ExperimentError: every problem found, each named by its field.
    """
    if not isinstance(doc, dict):
        raise ExperimentError([Problem(source, "an experiment file is a mapping of fields, got "
                                               f"{describe(doc)}")])
    r = DocReader(doc)
    version = doc.get("version")
    if version != EXPERIMENT_VERSION or isinstance(version, bool):
        r.problem("version", "missing; add 'version: 1'" if version is None else
                  f"unknown version {describe(version)} (this Sweeplab reads version 1)")
    for extra in sorted(set(doc) - _TOP):
        r.problem(str(extra), "unknown field")
    name = _name(r, doc)
    command = _command(r, doc)
    code_dir = _code_dir(r, doc, base_dir)
    kpi_doc = r.mapping("kpi", {"name", "goal", "use"})
    kpi = Kpi(r.text(kpi_doc, "name", "kpi.name"),
              r.enum(kpi_doc, "goal", "kpi.goal", Goal, Goal.MIN),
              r.enum(kpi_doc, "use", "kpi.use", KpiUse, KpiUse.LAST))
    algo_doc = r.mapping("algorithm", {"name", "seed", "initial_random"})
    algorithm = r.enum(algo_doc, "name", "algorithm.name", Algorithm, Algorithm.TPE)
    seed = r.integer(algo_doc, "seed", "algorithm.seed", 0, 0) or 0
    initial = r.integer(algo_doc, "initial_random", "algorithm.initial_random", None, 0)
    limits = _limits(r)
    scheduler = _scheduler(r, limits)
    if scheduler.name is SchedulerName.PBT:
        limits = _population(r, limits)
    found = len(r.problems)
    space = _space(r, doc, base_dir)
    space_read = len(r.problems) == found  # else its names are unknown, not missing
    if scheduler.name is SchedulerName.PBT and space_read:
        r.problems.extend(mutation_problems(scheduler.pbt, space))
    metrics, specs = _metrics(r, doc.get("metrics", []))
    config = ExperimentConfig(
        name=name, code_dir=code_dir, command=command, kpi=kpi, space=space,
        algorithm=algorithm, seed=seed,
        initial_random=initial,
        scheduler=scheduler, limits=limits, hosts=_hosts(r, doc.get("hosts", [LOCAL_HOST])),
        gpus_per_trial=r.integer(doc, "gpus_per_trial", "gpus_per_trial", 0, 0) or 0,
        metrics=metrics, metric_specs=specs, env=_env(r, doc.get("env", {})),
        include_uncommitted=_flag(r, doc, "include_uncommitted", True),
        retries=r.integer(doc, "retries", "retries", 0, 0) or 0,
    )
    _check_placeholders(r, config, space_read)
    if r.problems:
        raise ExperimentError(r.problems)
    return config


def file_document(config: ExperimentConfig, file_dir: Path) -> dict[str, Any]:
    """The experiment file for ``config`` kept in ``file_dir``: the canonical document
    (space inline) with ``code_dir`` relative to that folder, so the file and its code
    can move together. :func:`load_experiment` reads it back to ``config``."""
    doc = config.to_dict()
    with contextlib.suppress(ValueError):  # another drive (Windows): kept absolute
        doc["code_dir"] = os.path.relpath(config.code_dir, file_dir.resolve())
    return doc


def identical_trials_problem(config: ExperimentConfig) -> Problem | None:
    """Why ``config`` would run the same trial over and over, or None.

    A space with no searched parameter (it is empty, or AUTO is off on every node)
    gives every trial the same values, so more than one trial spends the budget on
    repeats; this is refused rather than asked about, as ``sweeplab run`` has no one
    to ask, and one trial (``max_trials: 1``, a check that the script runs) stays
    possible. Grid search runs each point once, so it is never refused here.
    """
    if config.algorithm is Algorithm.GRID or config.limits.max_trials <= 1:
        return None
    if any(getattr(node, "auto", False) for _, node in config.space.walk()):
        return None
    what = "the space is empty" if not config.space.children else "AUTO is off on every node"
    return Problem("space", f"no parameter is searched ({what}), so all "
                            f"{config.limits.max_trials} trials would run with the same "
                            "values: switch AUTO on for a parameter (the Space tab), or set "
                            "limits.max_trials to 1 to run the script once")


def load_experiment(path: Path) -> ExperimentConfig:
    """Read and validate an experiment file. Raises DocumentError or ExperimentError."""
    return experiment_from_dict(load_file(path), path.resolve().parent, str(path))


def _name(r: DocReader, doc: dict[str, Any]) -> str:
    raw = doc.get("name")
    problem = "missing" if raw is None else name_problem(raw)
    if problem is not None or not isinstance(raw, str):
        r.problem("name", str(problem))
        return ""
    return raw


def _command(r: DocReader, doc: dict[str, Any]) -> str:
    command = r.text(doc, "command", "command")
    problem = unsendable(command)
    if problem is not None:
        r.problem("command", problem)
    return command


def _code_dir(r: DocReader, doc: dict[str, Any], base_dir: Path) -> Path:
    raw = doc.get("code_dir", ".")
    if not isinstance(raw, str):
        r.problem("code_dir", f"expected a path, got {describe(raw)}")
        return base_dir
    path = r.path(raw, base_dir, "code_dir")
    if path is None:
        return base_dir
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name too long for the file system
        r.problem("code_dir", f"{describe(str(path))} cannot be used: {exc.strerror}")
        return path
    if not is_dir:
        r.problem("code_dir", f"{path} is not a directory")
    return path


def _limits(r: DocReader) -> Limits:
    d = r.mapping("limits", _LIMITS)
    max_trials = r.integer(d, "max_trials", "limits.max_trials", 20, 1) or 20
    max_parallel = r.integer(d, "max_parallel", "limits.max_parallel", 1, 1) or 1
    return Limits(
        max_trials=max_trials, max_parallel=max_parallel,
        max_epochs=r.integer(d, "max_epochs", "limits.max_epochs", None, 1),
        max_trial_seconds=r.seconds(d, "max_trial_seconds", "limits.max_trial_seconds"),
        max_seconds=r.seconds(d, "max_seconds", "limits.max_seconds"),
    )


def _scheduler(r: DocReader, limits: Limits) -> SchedulerConfig:
    d = r.mapping("scheduler", {"name", "grace_period", "reduction_factor", "min_trials",
                                *PBT_FIELDS})
    name = r.enum(d, "name", "scheduler.name", SchedulerName, SchedulerName.FIFO)
    if name is not SchedulerName.PBT:
        for extra in sorted(PBT_FIELDS & set(d)):
            r.problem(f"scheduler.{extra}", "only scheduler name pbt reads this field")
    config = SchedulerConfig(
        name=name,
        grace_period=r.integer(d, "grace_period", "scheduler.grace_period", 1, 1) or 1,
        reduction_factor=r.integer(d, "reduction_factor", "scheduler.reduction_factor", 3, 2)
        or 3,
        min_trials=r.integer(d, "min_trials", "scheduler.min_trials", 3, 1) or 3,
        pbt=read_settings(r, d) if name is SchedulerName.PBT else PbtSettings(),
    )
    if name.needs_max_epochs and limits.max_epochs is None:
        r.problem("scheduler.name", f"{name.value} needs limits.max_epochs (its rungs lie "
                                    "below the max epochs)")
    return config


def _population(r: DocReader, limits: Limits) -> Limits:
    """PBT: ``scheduler.population`` is the max parallel (the trials that run at once)
    and, unless set, the max trials too; it agrees with ``limits.max_parallel``."""
    d = r.doc.get("scheduler", {})
    given = r.doc.get("limits", {})
    given = given if isinstance(given, dict) else {}
    population = r.integer(d, "population", "scheduler.population", None, 2)
    if population is None:
        if "max_parallel" not in given:
            r.problem("scheduler.population", "pbt needs a population (the trials trained "
                                              "at once, at least 2), e.g. population: 8")
        elif limits.max_parallel < 2:
            r.problem("limits.max_parallel", "pbt needs at least 2 trials at once (its "
                                             "population)")
        population = limits.max_parallel
    elif "max_parallel" in given and given["max_parallel"] != population:
        r.problem("scheduler.population", f"{population} differs from limits.max_parallel "
                                          f"{describe(given['max_parallel'])}: the population "
                                          "is the trials that run at once; set one of them")
    max_trials = limits.max_trials if "max_trials" in given else population
    if max_trials < population:
        r.problem("limits.max_trials", f"{max_trials} is fewer than the population "
                                       f"{population}")
    return dataclasses.replace(limits, max_parallel=population, max_trials=max_trials)


def _space(r: DocReader, doc: dict[str, Any], base_dir: Path) -> Space:
    raw = doc.get("space")
    source = "space"
    try:
        if raw is None:
            r.problem("space", "missing: a space file path or the space inline")
            return Space()
        if isinstance(raw, str):
            path = r.path(raw, base_dir, "space")
            if path is None:
                return Space()
            source = str(path)
            return space_from_document(load_file(path), source)
        return space_from_document(raw, source)
    except ValidationError as exc:
        for p in exc.problems:
            whole = p.path in ("", source)  # the document as a whole, not one node
            if source == "space":  # inline
                r.problem("space" if whole else f"space: {p.path}", p.message)
            elif whole:
                r.problem("space", f"{source}: {p.message}")
            else:
                r.problem(f"{source}: {p.path}", p.message)
        return Space()


def _metrics(r: DocReader,
             raw: object) -> tuple[tuple[MetricRegex, ...], tuple[dict[str, str], ...]]:
    if not isinstance(raw, list):
        r.problem("metrics", f"expected a list of {{name, regex}}, got {describe(raw)}")
        return (), ()
    out: list[MetricRegex] = []
    specs: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        path = f"metrics[{i}]"
        if not isinstance(item, dict) or not {"name", "regex"} <= set(item):
            r.problem(path, "expected a mapping with name and regex")
            continue
        extra = set(item) - {"name", "regex", "step_regex"}
        if extra:
            r.problem(path, f"unknown field {describe(sorted(extra)[0])}")
        if not all(isinstance(v, str) for v in item.values()):
            r.problem(path, "name, regex and step_regex are texts")
            continue
        try:
            out.append(MetricRegex.compile(item["name"], item["regex"], item.get("step_regex")))
            specs.append(dict(item))
        except ValueError as exc:
            r.problem(path, str(exc))
    return tuple(out), tuple(specs)


def _hosts(r: DocReader, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(h, str) for h in raw):
        r.problem("hosts", f"expected a list of host names such as [local], got {describe(raw)}")
        return (LOCAL_HOST,)
    bad = [h for h in raw if not HOST_NAME.match(h)]
    if bad:
        r.problem("hosts", f"{describe(bad[0])} is not a host name: 'local' or the name of a "
                           "saved server (letters, digits, '_', '.', '-')")
    repeated = sorted({h for h in raw if raw.count(h) > 1})
    if repeated:
        r.problem("hosts", f"{describe(repeated[0])} is listed twice")
    # whether a server of that name is saved is checked when the run starts (the
    # engine does not know the store): see app.application.wiring
    return tuple(raw)


def _env(r: DocReader, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        r.problem("env", f"expected a mapping of NAME: value, got {describe(raw)}")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key.isidentifier():
            r.problem("env", f"invalid variable name {describe(key)}: letters, digits and "
                             "'_', not starting with a digit")
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            r.problem(f"env.{key}", f"expected a text or number, got {describe(value)}")
        elif (problem := unsendable(str(value))) is not None:
            r.problem(f"env.{key}", problem)
        else:
            out[key] = str(value)
    return out


def _flag(r: DocReader, doc: dict[str, Any], key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        r.problem(key, f"expected true or false, got {describe(value)}")
        return default
    return value


def _check_placeholders(r: DocReader, config: ExperimentConfig, space_read: bool) -> None:
    if not config.command:
        return
    try:
        names = placeholders(config.command)
    except ValueError as exc:
        r.problem("command", str(exc))
        return
    known = {PARAMS_FILE_PLACEHOLDER, AUP_PARAMS_PLACEHOLDER, PYTHON_PLACEHOLDER}
    known |= {path for path, _ in config.space.walk()}
    for name in names:
        if name not in known and space_read:
            r.problem("command", f"unknown placeholder {{{name}}}: not a parameter of the space")
