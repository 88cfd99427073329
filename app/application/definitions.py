"""Stored experiment definitions, checked: a broken one is named, never a traceback.

A definition stored by an older Sweeplab, or edited by hand in the database, may no
longer validate. Listing must still show every experiment (the broken one marked as
such) and commands on the broken one must say which experiment and what is wrong;
its trials stay in the database and can still be exported.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.docio import dump_text
from app.engine.errors import Problem, ValidationError
from app.engine.experiment import (
    ExperimentConfig,
    experiment_from_dict,
    file_document,
    load_experiment,
)
from app.engine.records import ExperimentRecord
from app.store.codec import UNREADABLE_JSON

_SHOWN_PROBLEMS = 3


def config_of(experiment: ExperimentRecord) -> ExperimentConfig:
    """The validated definition stored with an experiment.

    Raises:
        ValidationError: it does not validate (:func:`checked_config` names the
            experiment in its message).
    """
    base = experiment.definition.get("code_dir")
    # a definition without code_dir is reported by the parser ("code_dir: missing")
    return experiment_from_dict(experiment.definition, Path(base if isinstance(base, str)
                                                            else "."),
                                f"experiment {experiment.name!r}")


class BrokenExperiment(ValueError):
    """A stored experiment whose definition does not validate.

    ``str()`` is one line naming the experiment, the problem and what still works;
    :attr:`reason` is the short form for a list (``definition invalid: kpi.name: ...``)
    and :attr:`details` the problems alone.
    """

    def __init__(self, record: ExperimentRecord, error: ValidationError) -> None:
        self.record = record
        self.problems = list(error.problems)
        more = len(self.problems) - _SHOWN_PROBLEMS
        self.details = "; ".join(str(p) for p in self.problems[:_SHOWN_PROBLEMS]) + (
            f" (and {more} more)" if more > 0 else "")
        self.reason = f"definition invalid: {self.details}"
        super().__init__(
            f"experiment {record.name!r} (id {record.id}) cannot be used: its stored "
            f"definition is invalid ({self.details}); its trials are kept "
            f"(`sweeplab export {record.id}` writes them)")


def checked_config(record: ExperimentRecord) -> ExperimentConfig:
    """The experiment's validated definition.

    Raises:
        BrokenExperiment: it does not validate (a ValueError naming the experiment).
    """
    unreadable = record.definition.get(UNREADABLE_JSON)
    if unreadable is not None:
        raise BrokenExperiment(record, ValidationError([Problem(
            "definition", f"the stored text is not JSON: {unreadable!r}")]))
    try:
        return config_of(record)
    except ValidationError as exc:
        raise BrokenExperiment(record, exc) from exc


def config_or_broken(record: ExperimentRecord) -> ExperimentConfig | BrokenExperiment:
    """The validated definition, or why it is broken: for lists that show every row."""
    try:
        return checked_config(record)
    except BrokenExperiment as broken:
        return broken


def open_experiment_file(path: Path) -> ExperimentConfig:
    """Read an experiment file as ``sweeplab run`` does (its code directory and space
    file relative to the file).

    Raises:
        DocumentError: the file cannot be read as YAML or JSON.
        ExperimentError: every problem found, each named by its field.
    """
    return load_experiment(path)


def save_experiment_file(config: ExperimentConfig, path: Path) -> None:
    """Write ``config`` as an experiment file ``sweeplab run`` reads back to the same
    experiment: the space inline, the code directory relative to the file's folder;
    JSON for a ``.json`` file, else YAML.

    Raises:
        OSError: the file cannot be written.
    """
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    path.write_text(dump_text(file_document(config, path.parent), fmt), encoding="utf-8")
