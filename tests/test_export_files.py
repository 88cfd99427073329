"""Issue 17.19: the exported trial file, the same from the app and ``sweeplab export``:
UTF-8 without a byte-order mark, the KPI column named after the KPI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.application.exporting import ExportFormat, export_text, kpi_column
from app.application.workspace import Workspace
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.store.store import Store
from tests.helpers import fresh_cli, store_experiment

UTF8_BOM = b"\xef\xbb\xbf"


def trial(number: int, kpi: float, params: dict[str, object]) -> TrialRecord:
    return TrialRecord(id=number, experiment_id=1, number=number, state=TrialState.COMPLETED,
                       params=params, created_at=datetime(2024, 1, 1, tzinfo=UTC), kpi=kpi)


def test_the_kpi_column_is_named_after_the_kpi() -> None:
    trials = [trial(1, 0.9, {"lr": 0.1}), trial(2, 0.8, {"lr": 0.2})]
    header = export_text(trials, ExportFormat.CSV, "val_acc").splitlines()[0].split(",")
    assert header == ["id", "state", "host", "gpus", "started", "ended", "duration_s",
                      "val_acc", "commit", "error", "lr"]
    rows = json.loads(export_text(trials, ExportFormat.JSON, "val_acc"))
    assert [row["val_acc"] for row in rows] == [0.9, 0.8] and "kpi" not in rows[0]


def test_a_kpi_named_like_a_param_or_a_fixed_column_is_kept_apart() -> None:
    """A param can never hold ':' (names are identifiers joined by dots), so
    ``kpi:<name>`` cannot clash with one."""
    trials = [trial(1, 0.5, {"val_acc": 3, "opt": {"_name": "sgd", "loss": 1}})]
    rows = list(csv.DictReader(io.StringIO(export_text(trials, "csv", "val_acc"))))
    assert rows[0]["kpi:val_acc"] == "0.5" and rows[0]["val_acc"] == "3"
    assert kpi_column("opt.loss", ["val_acc", "opt", "opt.loss"]) == "kpi:opt.loss"
    assert kpi_column("state", []) == "kpi:state"  # a fixed column
    assert kpi_column("kpi", []) == "kpi"
    assert kpi_column(None, ["x"]) == "kpi"  # unknown (a definition that does not read)


def test_a_param_named_like_a_fixed_column_keeps_its_own_column() -> None:
    trials = [trial(1, 0.5, {"host": "gpu-box", "error": 0.1, "kpi": 2})]
    rows = list(csv.DictReader(io.StringIO(export_text(trials, "csv", "kpi"))))
    assert rows[0]["host"] == "" and rows[0]["param:host"] == "gpu-box"
    assert rows[0]["error"] == "" and rows[0]["param:error"] == "0.1"
    assert rows[0]["kpi"] == "0.5" and rows[0]["param:kpi"] == "2"


def test_the_app_and_the_command_line_write_the_same_file_without_a_bom(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "export.db"
    with Store(f"sqlite:///{db}") as store:
        experiment_id = store_experiment(store, tmp_path, "", name="données",
                                         kpi={"name": "précision", "goal": "max"})
        record = store.create_trial(experiment_id, {"x": 0.25})
        store.update_trial(record.id, state=TrialState.RUNNING, host="local")
        store.update_trial(record.id, state=TrialState.COMPLETED, kpi=0.75,
                           error="note: é ünïcode")
        workspace = Workspace(store)
        try:
            app_file = tmp_path / "app.csv"
            assert workspace.export(experiment_id, app_file) == 1
        finally:
            workspace.close()
    cli = fresh_cli(tmp_path / "home", monkeypatch, capsys)
    cli_file = tmp_path / "cli.csv"
    code, _out, err = cli("export", "données", "--db", f"sqlite:///{db}", "-o", str(cli_file))
    assert code == 0, err
    data = app_file.read_bytes()
    assert not data.startswith(UTF8_BOM)
    assert cli_file.read_bytes() == data
    code, out, err = cli("export", "données", "--db", f"sqlite:///{db}")
    assert code == 0, err
    assert out.encode("utf-8") == data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert rows[0]["précision"] == "0.75" and rows[0]["error"] == "note: é ünïcode"
