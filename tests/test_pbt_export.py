"""PBT's lineage and best schedule read from a real SQLite store: the window's picture
and ``sweeplab export --schedule | --lineage`` (CSV and JSON), bad input exits 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from app.application.lineage import experiment_picture
from app.application.workspace import Workspace
from app.engine.records import MetricPoint
from app.engine.trial import TrialState
from app.store.store import Store
from tests.helpers import fresh_cli, store_experiment


def _populate(store: Store, tmp_path: Path) -> int:
    """Two trials of a stored experiment (KPI ``loss``, minimised): trial 1 trains 0-8 at
    x 0.5 and finishes with loss 0.1; trial 2 trains 0-4 at x 0.9, copies trial 1's
    checkpoint at step 4 with x 0.4 and finishes at 8 with loss 0.3. Then trial 1 has
    copied nothing: its schedule is its own; trial 2's goes through trial 1."""
    experiment_id = store_experiment(store, tmp_path, "", name="pbt-run")
    first = store.create_trial(experiment_id, {"x": 0.5})
    second = store.create_trial(experiment_id, {"x": 0.9})
    store.add_segment(first.id, 0, 0, {"x": 0.5}, None, None)
    store.add_segment(second.id, 0, 0, {"x": 0.9}, None, None)
    store.update_segment(second.id, 0, end_step=4)
    store.add_segment(second.id, 1, 4, {"x": 0.4}, first.id, 4)
    store.update_segment(first.id, 0, end_step=8)
    store.update_segment(second.id, 1, end_step=8)
    points = [MetricPoint(first.id, "loss", 1.0 / s, s, float(s)) for s in range(1, 9)]
    points += [MetricPoint(second.id, "loss", 2.0 / s, s, float(s)) for s in range(1, 5)]
    points += [MetricPoint(second.id, "loss", 0.2 + 1.0 / s, s, 10.0 + s) for s in range(5, 9)]
    store.add_metrics(points)
    for trial, kpi in ((first, 0.1), (second, 0.3)):
        store.update_trial(trial.id, state=TrialState.RUNNING)
        store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=kpi)
    return experiment_id


def test_the_picture_reads_segments_trials_and_points_from_sqlite(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'pbt.db'}") as store:
        experiment_id = _populate(store, tmp_path)
        picture = experiment_picture(Workspace(store), experiment_id)
    assert [(c.trial, c.donor, c.step) for c in picture.lineage.copies] == [(2, 1, 4)]
    assert picture.schedule is not None and picture.schedule.trial == 1
    assert picture.schedule.steps("x") == ([0], [0.5])
    joined = [c for c in picture.curves if c.joined]
    assert len(joined) == 1 and joined[0].steps[0] == 4
    assert joined[0].values[0] == pytest.approx(0.25)  # trial 1's loss at step 4


def _cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[Any, str]:
    db = tmp_path / "pbt.db"
    with Store(f"sqlite:///{db}") as store:
        _populate(store, tmp_path)
        plain = store_experiment(store, tmp_path / "plain", "", name="plain")
        assert plain
    return fresh_cli(tmp_path / "home", monkeypatch, capsys), f"sqlite:///{db}"


def test_export_schedule_and_lineage_from_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    cli, url = _cli(tmp_path, monkeypatch, capsys)
    code, out, err = cli("export", "pbt-run", "--db", url, "--schedule")
    assert code == 0, err
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"from_step": "0", "to_step": "8", "trial": "1", "segment": "0", "x": "0.5"}]
    target = tmp_path / "lineage.json"
    code, _, err = cli("export", "pbt-run", "--db", url, "--lineage", "--format", "json",
                       "-o", str(target))
    assert code == 0, err
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["copies"] == [{"trial": 2, "donor": 1, "step": 4, "segment": 1}]
    assert document["mutated"] == ["x"]


def test_export_schedule_of_an_experiment_without_pbt_exits_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    cli, url = _cli(tmp_path, monkeypatch, capsys)
    code, out, err = cli("export", "plain", "--db", url, "--schedule")
    assert code == 2 and out == ""
    assert "'plain' has no PBT segment" in err and "scheduler: pbt" in err
    with pytest.raises(SystemExit) as exited:
        cli("export", "pbt-run", "--db", url, "--schedule", "--lineage")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
