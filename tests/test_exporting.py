"""The best trial's params.json: which trial is best, and a file the SDK reads as a trial's."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.application.exporting import (
    ExportFormat,
    best_params_text,
    best_trial,
    export_text,
    write_best_params,
)
from app.engine.params import params_document
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState

SDK_DIR = Path(__file__).resolve().parents[1] / "app" / "sdk"
NESTED = {"lr": 0.01, "optimizer": {"_name": "adam", "beta1": 0.9}, "layers": 3}


def trial(number: int, state: TrialState, kpi: float | None,
          params: dict[str, object] | None = None) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params=dict(params or {"x": number}),
                       created_at=datetime(2024, 1, 1, tzinfo=UTC), kpi=kpi)


def test_the_best_completed_trial_with_a_finite_kpi_wins_for_either_goal() -> None:
    trials = [
        trial(1, TrialState.COMPLETED, 0.5),
        trial(2, TrialState.PRUNED, 0.01),  # pruned: stopped early, not a finished result
        trial(3, TrialState.COMPLETED, math.nan),
        trial(4, TrialState.COMPLETED, 0.2),
        trial(5, TrialState.FAILED, 0.0),
        trial(6, TrialState.COMPLETED, 0.9),
        trial(7, TrialState.RUNNING, 0.05),
        trial(8, TrialState.COMPLETED, None),
        trial(9, TrialState.COMPLETED, 0.2),  # a tie: the earlier one stays
    ]
    assert best_trial(trials, Goal.MIN).number == 4
    assert best_trial(trials, Goal.MAX).number == 6
    infinite = [trial(1, TrialState.COMPLETED, -math.inf), trial(2, TrialState.COMPLETED, 1.0)]
    assert best_trial(infinite, Goal.MIN).number == 2


def test_no_completed_trial_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="no trial has completed with a KPI value yet"):
        best_trial([trial(1, TrialState.PRUNED, 0.1), trial(2, TrialState.COMPLETED, None)],
                   Goal.MIN)
    with pytest.raises(ValueError, match="no best trial"):
        best_params_text([], Goal.MAX)


def test_params_json_is_the_document_a_trial_receives(tmp_path: Path) -> None:
    trials = [trial(1, TrialState.COMPLETED, 0.3), trial(2, TrialState.COMPLETED, 0.1, NESTED)]
    chosen, text = best_params_text(trials, Goal.MIN)
    assert chosen.number == 2
    assert json.loads(text) == params_document(NESTED)
    path = tmp_path / "params.json"
    assert write_best_params(trials, Goal.MIN, path).number == 2
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "nested": NESTED,
        "dotted": {"lr": 0.01, "optimizer": "adam", "optimizer.beta1": 0.9, "layers": 3}}

    # a script run by hand with SWEEPLAB_PARAMS pointing at the file reads the best params
    script = ("import sweeplab; print(sweeplab.param('optimizer.beta1'), "
              "sweeplab.param('optimizer'), sweeplab.params()['layers'])")
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR), "SWEEPLAB_PARAMS": str(path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.9", "adam", "3"]


def test_unwritable_target_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_best_params([trial(1, TrialState.COMPLETED, 1.0)], Goal.MIN,
                          tmp_path / "missing-folder" / "params.json")


def test_export_formats_are_the_enum_values() -> None:
    trials = [trial(1, TrialState.COMPLETED, 0.5, NESTED)]
    rows = json.loads(export_text(trials, ExportFormat.JSON, "loss"))
    assert rows[0]["optimizer.beta1"] == 0.9 and rows[0]["loss"] == 0.5
    assert export_text(trials, ExportFormat.CSV, "loss").splitlines()[0].startswith("id,state,")
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        export_text(trials, "xml", "loss")
