"""A stored experiment whose definition no longer validates, through the real command.

``ls`` lists every experiment and marks the broken one; ``show`` and ``resume`` name it
and say what is wrong; ``export`` still writes its trials. Nothing stored changes.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app.engine.trial import ExperimentState, TrialState
from app.store.places import sqlite_url
from app.store.store import Store
from tests.reliability.bad_db import GOLDEN_EXPERIMENT, StoredState, make_golden
from tests.reliability.bad_support import TRACEBACK, assert_refused, sweeplab

PROBLEM = "kpi.name: expected a non-empty text, got ''"


def add_broken(db: Path, name: str = "broken") -> int:
    """Store a valid experiment with one completed trial, then break its definition
    straight in the ``experiments`` table (as a hand edit or an older Sweeplab would).

    Returns:
        The broken experiment's id.
    """
    code = db.parent / "code"
    definition: dict[str, Any] = {**GOLDEN_EXPERIMENT, "name": name, "code_dir": str(code)}
    with Store(sqlite_url(db)) as store:
        experiment = store.create_experiment(name, definition)
        trial = store.create_trial(experiment.id, {"x": 0.75})
        store.update_trial(trial.id, state=TrialState.RUNNING)
        store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=0.5, exit_code=0)
        store.update_experiment(experiment.id, state=ExperimentState.STOPPED)
    broken = {**definition, "kpi": {"name": "", "goal": "min"}}
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("UPDATE experiments SET definition = ? WHERE id = ?",
                    (json.dumps(broken), experiment.id))
    raw.close()
    return experiment.id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with the valid ``kept`` and the broken ``broken``."""
    path = tmp_path / "db" / "sweeplab.db"
    path.parent.mkdir()
    make_golden(path)
    add_broken(path)
    return path


def test_ls_lists_every_experiment_and_marks_the_broken_one(db: Path, tmp_path: Path) -> None:
    before = StoredState.of(db)
    result = sweeplab("ls", "--db", str(db), home=tmp_path / "home")
    assert result.code == 0, result.text
    assert TRACEBACK not in result.text
    rows = {line.split("│")[2].strip(): line for line in result.out.splitlines()
            if line.count("│") > 3}
    assert set(rows) == {"kept", "broken"}
    assert "draft" in rows["kept"] and "loss 0.2" in rows["kept"]
    assert "broken" in rows["broken"].split("│")[3]  # the state column
    assert f"broken: 'broken' (id 2, stopped): definition invalid: {PROBLEM}" in result.out
    assert StoredState.of(db) == before


@pytest.mark.parametrize("command", ["show", "resume"])
def test_commands_on_the_broken_one_name_it_and_the_problem(
        command: str, db: Path, tmp_path: Path) -> None:
    before = StoredState.of(db)
    result = sweeplab(command, "broken", "--db", str(db), home=tmp_path / "home")
    assert_refused(result, "experiment 'broken'", f"{command} broken")
    assert PROBLEM in result.err
    assert StoredState.of(db) == before


def test_show_of_the_broken_one_says_its_trials_can_be_exported(db: Path,
                                                                tmp_path: Path) -> None:
    result = sweeplab("show", "2", "--db", str(db), home=tmp_path / "home")
    assert_refused(result, f"experiment 'broken' (id 2) cannot be used: its stored "
                   f"definition is invalid ({PROBLEM})", "show 2")
    assert "sweeplab export 2" in result.err


def test_export_of_the_broken_one_still_writes_its_trials(db: Path, tmp_path: Path) -> None:
    result = sweeplab("export", "broken", "--db", str(db), home=tmp_path / "home")
    assert result.code == 0, result.text
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(row["state"], float(row["kpi"])) for row in rows] == [("completed", 0.5)]
    assert "warning: experiment 'broken' (id 2) has an invalid stored definition" in result.err
    assert PROBLEM in result.err


def test_the_valid_one_is_unaffected(db: Path, tmp_path: Path) -> None:
    result = sweeplab("show", "kept", "--db", str(db), home=tmp_path / "home")
    assert result.code == 0, result.text
    assert "kept (draft), 1 trials" in result.out and "x=0.25" in result.out


def test_a_definition_that_is_not_json_at_all_is_listed_as_broken(tmp_path: Path) -> None:
    db = tmp_path / "db" / "sweeplab.db"
    db.parent.mkdir()
    make_golden(db)
    experiment_id = add_broken(db, "garbled")
    raw = sqlite3.connect(db)
    with raw:  # a hand edit gone wrong: SQLite keeps whatever text it is given
        raw.execute("UPDATE experiments SET definition = ? WHERE id = ?",
                    ('{"name": "garbled", "kpi": {not json', experiment_id))
    raw.close()
    before = StoredState.of(db)
    listed = sweeplab("ls", "--db", str(db), home=tmp_path / "home")
    assert listed.code == 0, listed.text
    assert TRACEBACK not in listed.text
    assert "kept" in listed.out
    assert ("definition invalid: definition: the stored text is not JSON: "
            "'{\"name\": \"garbled\", \"kpi\": {not json'") in listed.out
    shown = sweeplab("show", "garbled", "--db", str(db), home=tmp_path / "home")
    assert_refused(shown, "experiment 'garbled'", "show garbled")
    assert StoredState.of(db) == before
