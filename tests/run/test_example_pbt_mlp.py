"""examples/pbt_mlp: its checkpoints restore exactly, and it runs under plain random
search (no checkpoint restored) through ``sweeplab run``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.engine.docio import dump_text, load_file
from app.engine.experiment import load_experiment
from app.engine.schedulers import SchedulerName

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pbt_mlp"


def _train(cwd: Path, **env: str) -> dict[str, dict[int, float]]:
    """Run train.py by hand with the SDK on its path; its reports by metric and step."""
    full = {**os.environ, "PYTHONPATH": str(ROOT / "app" / "sdk"), "OMP_NUM_THREADS": "1",
            **env}
    for name in ("SWEEPLAB_PARAMS", "SWEEPLAB_RESTORE_DIR", "SWEEPLAB_START_STEP"):
        if name not in env:
            full.pop(name, None)
    result = subprocess.run([sys.executable, str(EXAMPLE / "train.py")], cwd=cwd, env=full,
                            capture_output=True, text=True, timeout=120, check=True)
    reports: dict[str, dict[int, float]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("#sweeplab ") and '"metric"' in line:
            item = json.loads(line[len("#sweeplab "):])
            reports.setdefault(item["metric"], {})[item["step"]] = item["value"]
    return reports


def test_a_restored_checkpoint_continues_exactly_where_it_was_saved(tmp_path: Path) -> None:
    """Five epochs straight, or three, a checkpoint, and two more from it: the same
    accuracy at every step (the weights and the epoch come back; shuffling is seeded by
    epoch)."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    straight = _train(tmp_path / "a", SWEEPLAB_CHECKPOINT_DIR=str(tmp_path / "a" / "checkpoint"),
                      SWEEPLAB_MAX_EPOCHS="5")
    first = _train(tmp_path / "b", SWEEPLAB_CHECKPOINT_DIR=str(tmp_path / "b" / "checkpoint"),
                   SWEEPLAB_MAX_EPOCHS="3")
    published = tmp_path / "b" / "checkpoints" / "3"
    assert (published / "model.npz").is_file()
    restore = tmp_path / "c" / "restore"
    shutil.copytree(published, restore)
    second = _train(tmp_path / "c", SWEEPLAB_CHECKPOINT_DIR=str(tmp_path / "c" / "checkpoint"),
                    SWEEPLAB_RESTORE_DIR=str(restore), SWEEPLAB_START_STEP="3",
                    SWEEPLAB_MAX_EPOCHS="5")
    assert sorted(first["val_acc"]) == [1, 2, 3] and sorted(second["val_acc"]) == [4, 5]
    assert {**first["val_acc"], **second["val_acc"]} == straight["val_acc"]


def test_it_runs_under_random_search_without_restoring(tmp_path: Path) -> None:
    folder = tmp_path / "pbt_mlp"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "experiment-random.yaml"
    doc = load_file(path)
    doc["limits"].update(max_trials=2, max_epochs=3)
    path.write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-m", "app", "run", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "pbt-mlp-random: completed, 2 trials" in run.stdout
    exported = subprocess.run([sys.executable, "-m", "app", "export", "pbt-mlp-random",
                               "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    rows = json.loads(exported.stdout)
    assert [r["state"] for r in rows] == ["completed", "completed"]
    assert all(0.3 < float(r["val_acc"]) <= 1.0 for r in rows)


def test_both_experiment_files_are_valid() -> None:
    assert load_experiment(EXAMPLE / "experiment-random.yaml").limits.max_epochs == 24
    pbt = load_experiment(EXAMPLE / "experiment.yaml")
    assert pbt.scheduler.name is SchedulerName.PBT and pbt.limits.max_parallel == 4
    assert list(pbt.scheduler.pbt.mutation_map) == ["lr"]


def test_it_runs_under_pbt_and_exports_the_best_schedule(tmp_path: Path) -> None:
    """The PBT experiment file as shipped (fewer epochs): trials exploit, and
    ``sweeplab export --schedule`` writes the best trial's lr by step."""
    folder = tmp_path / "pbt_mlp"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "experiment.yaml"
    doc = load_file(path)
    doc["limits"].update(max_epochs=12)
    doc["scheduler"].update(interval=2)
    path.write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200",
           "SWEEPLAB_LOCAL_SLOTS": "4"}
    run = subprocess.run([sys.executable, "-m", "app", "run", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "pbt-mlp: completed, 4 trials" in run.stdout
    lineage = subprocess.run([sys.executable, "-m", "app", "export", "pbt-mlp", "--lineage",
                              "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120, check=True)
    assert json.loads(lineage.stdout)["copies"], "no trial exploited another"
    schedule = subprocess.run([sys.executable, "-m", "app", "export", "pbt-mlp", "--schedule",
                               "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    document = json.loads(schedule.stdout)
    assert document["end_step"] == 12 and document["params"]["lr"][0][0] == 0
    assert all(0.01 <= value <= 2.0 for _, value in document["params"]["lr"])
