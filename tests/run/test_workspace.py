"""The GUI's controller without Qt: create, run, stop, restart, resume, export."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from app.application.workspace import ActionRefused, Workspace
from app.engine.events import ExperimentChange, RunnerEvent, RunnerEventKind
from app.engine.experiment import load_experiment
from app.engine.search.base import Algorithm
from app.engine.trial import ExperimentState, TrialState
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def quadratic(tmp_path: Path) -> Path:
    folder = tmp_path / "quadratic"
    shutil.copytree(ROOT / "examples" / "quadratic", folder)
    text = (folder / "experiment.yaml").read_text()
    text = text.replace("max_trials: 30", "max_trials: 4").replace('"0.05"', '"0.02"')
    (folder / "experiment.yaml").write_text(text)
    return folder / "experiment.yaml"


def test_create_duplicate_rename_delete(workspace: Workspace, quadratic: Path) -> None:
    events: list[RunnerEvent] = []
    workspace.subscribe(events.append)
    record = workspace.create(load_experiment(quadratic))
    with pytest.raises(ActionRefused, match="already exists"):
        workspace.create(load_experiment(quadratic))
    copy = workspace.duplicate(record.id, "copy")
    assert workspace.config(copy.id).name == "copy"
    renamed = workspace.rename(copy.id, "renamed")
    assert renamed.name == "renamed" and workspace.config(copy.id).name == "renamed"
    workspace.delete(copy.id)
    assert [e.name for e in workspace.experiments()] == ["quadratic-demo"]
    change = ExperimentChange
    assert [e.change for e in events] == [change.CREATED, change.CREATED, change.RENAMED,
                                          change.DELETED]
    assert [e.message for e in events] == ["created", "created", "renamed", "deleted"]
    assert all(e.kind is RunnerEventKind.EXPERIMENT and e.state is None for e in events)


def test_start_runs_to_the_end_and_exports(workspace: Workspace, quadratic: Path,
                                           tmp_path: Path) -> None:
    record = workspace.create(load_experiment(quadratic))
    finished: list[ExperimentState] = []
    workspace.subscribe(lambda e: finished.append(e.state)
                      if e.kind is RunnerEventKind.EXPERIMENT and e.state else None)
    workspace.start(record.id)
    with pytest.raises(ActionRefused, match="stop the experiment before you delete"):
        workspace.delete(record.id)
    assert workspace.wait(record.id, 60)
    wait_until(lambda: not workspace.is_running(record.id), what="the run to be released")
    assert finished[-1] is ExperimentState.COMPLETED
    assert [t.state for t in workspace.trials(record.id)] == [TrialState.COMPLETED] * 4
    out = tmp_path / "out.csv"
    assert workspace.export(record.id, out) == 4
    with out.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 4


def test_stop_restart_and_resume(workspace: Workspace, quadratic: Path) -> None:
    config = load_experiment(quadratic)
    record = workspace.create(config)
    code = config.code_dir
    workspace.start(record.id)
    wait_until(lambda: any(t.state is TrialState.RUNNING for t in workspace.trials(record.id)),
               what="a running trial")
    first_hash = workspace.experiment(record.id).snapshot_hash
    workspace.stop(record.id)
    assert workspace.wait(record.id, 30)
    assert workspace.experiment(record.id).state is ExperimentState.STOPPED

    (code / "train.py").write_text((code / "train.py").read_text() + "\n# edited\n")
    workspace.restart(record.id)
    assert workspace.experiment(record.id).snapshot_hash != first_hash
    wait_until(lambda: bool(workspace.trials(record.id)), what="new trials")
    assert workspace.trials(record.id)[0].number == 1
    assert workspace.wait(record.id, 60)

    workspace.pause(record.id)  # no runner: nothing happens
    before = len(workspace.trials(record.id))
    workspace.resume(record.id)  # completed: a resumed run has nothing left to do
    assert workspace.wait(record.id, 30)
    assert len(workspace.trials(record.id)) == before == 4


def test_restart_refuses_a_searcher_the_space_cannot_take_before_dropping_trials(
        workspace: Workspace, quadratic: Path) -> None:
    """Issue 15.5: grid search on a continuous number deleted every trial, then refused."""
    config = load_experiment(quadratic)
    record = workspace.create(config)
    workspace.start(record.id)
    assert workspace.wait(record.id, 60)
    wait_until(lambda: not workspace.is_running(record.id), what="the run to be released")
    before = workspace.trials(record.id)
    assert len(before) == 4
    workspace.update(record.id, replace(config, algorithm=Algorithm.GRID))
    with pytest.raises(ActionRefused, match=r"cannot restart with grid search: .*step.*"
                                           r"no trial was dropped"):
        workspace.restart(record.id)
    assert workspace.trials(record.id) == before
    assert workspace.experiment(record.id).state is ExperimentState.COMPLETED


def test_rerun_of_a_finished_experiment_starts_it_for_that_trial(workspace: Workspace,
                                                                 quadratic: Path) -> None:
    record = workspace.create(load_experiment(quadratic))
    packed: list[tuple[int, int]] = []
    workspace.start(record.id, progress=lambda done, total: packed.append((done, total)))
    assert packed and packed[-1][0] == packed[-1][1] > 0, "the first start packs the code"
    assert workspace.wait(record.id, 60)
    best = min(workspace.trials(record.id), key=lambda t: t.kpi or 1e9)
    with pytest.raises(ActionRefused, match="not running"):
        workspace.stop_trial(record.id, best.id)
    workspace.rerun(record.id, best.id)
    assert workspace.wait(record.id, 60)
    trials = workspace.trials(record.id)
    assert len(trials) == 5, "a re-run comes on top of max trials"
    assert trials[-1].rerun_of == best.number and trials[-1].params == best.params
    assert trials[-1].kpi == best.kpi
    assert workspace.experiment(record.id).state is ExperimentState.COMPLETED
