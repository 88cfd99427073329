"""``sweeplab run | ls | show | export | stop | resume`` as a user types them."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.commands.exp_cmd import STOP_ANSWER_SECONDS
from app.engine.docio import dump_text, load_file
from app.engine.experiment import load_experiment
from app.engine.orders import STOP_SEEN
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import app_process, store_experiment, trials_of, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
            "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}


def sweeplab(env: dict[str, str], *args: str | Path,
             timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=timeout)


def example(tmp_path: Path, name: str, **changes: object) -> Path:
    """A copy of an example folder with some experiment fields changed."""
    folder = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, folder)
    path = folder / "experiment.yaml"
    doc = load_file(path)
    for key, value in changes.items():
        if isinstance(value, dict):
            doc.setdefault(key, {}).update(value)
        else:
            doc[key] = value
    path.write_text(dump_text(doc))
    return path


def test_run_quadratic_then_ls_show_export(tmp_path: Path, env: dict[str, str]) -> None:
    path = example(tmp_path, "quadratic", limits={"max_trials": 4, "max_epochs": 5},
                   env={"QUADRATIC_EPOCH_SECONDS": "0"})
    result = sweeplab(env, "run", path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "best trials of quadratic-demo" in result.stdout
    assert "quadratic-demo: completed, 4 trials" in result.stdout

    listing = sweeplab(env, "ls")
    assert "quadratic-demo" in listing.stdout and "completed" in listing.stdout

    show = sweeplab(env, "show", "quadratic-demo")
    assert show.stdout.count("completed") >= 4

    out = tmp_path / "trials.csv"
    assert sweeplab(env, "export", "quadratic-demo", "--format", "csv", "-o", out).returncode == 0
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")  # no byte-order mark
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    # the KPI column is named after the KPI, as in the app's export
    assert {"id", "state", "host", "gpus", "duration_s", "loss", "x", "y", "optimizer"} <= set(
        rows[0])
    assert all(float(r["loss"]) > 0 and r["state"] == "completed" for r in rows)

    exported = json.loads(sweeplab(env, "export", "1", "--format", "json").stdout)
    assert [r["id"] for r in exported] == [1, 2, 3, 4]

    again = sweeplab(env, "run", path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_digits_mlp_finishes_with_tpe_and_exports_csv(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    path = example(tmp_path, "digits-mlp", limits={"max_trials": 3, "max_epochs": 4},
                   algorithm={"name": "tpe", "seed": 0, "initial_random": 2})
    result = sweeplab(env, "run", path, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    out = tmp_path / "digits.csv"
    sweeplab(env, "export", "digits-mlp", "-o", out)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["state"] for r in rows] == ["completed"] * 3, rows
    assert all(0.5 < float(r["val_acc"]) <= 1.0 for r in rows)
    assert "optimizer.learning_rate_init" in rows[0]


def test_ctrl_c_stops_cleanly_and_resume_continues(tmp_path: Path,
                                                   env: dict[str, str]) -> None:
    path = example(tmp_path, "quadratic", limits={"max_trials": 4, "max_parallel": 2,
                                                  "max_epochs": 400},
                   env={"QUADRATIC_EPOCH_SECONDS": "0.05"})
    with app_process(env, "run", path) as proc, Store(env["SWEEPLAB_DB"]) as store:
        wait_until(lambda: len(trials_of(store, "quadratic-demo", TrialState.RUNNING)) == 2,
                   timeout=60, what="two running trials")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        exp = store.get_experiment("quadratic-demo")
        assert exp.state is ExperimentState.STOPPED
        stopped = store.list_trials(exp.id)
        assert [t.state for t in stopped] == [TrialState.STOPPED] * 2

        path.write_text(path.read_text())  # the stored definition is used, not the file
        resumed = sweeplab(env, "resume", "quadratic-demo", "--db", env["SWEEPLAB_DB"],
                           timeout=240)
        assert resumed.returncode == 0, resumed.stderr
        trials = store.list_trials(exp.id)
        assert len(trials) == 4 and [t.number for t in trials] == list(range(1, 5))
        assert [t.state for t in trials[2:]] == [TrialState.COMPLETED] * 2


def test_stop_from_another_terminal_returns_once_the_run_answered(
        tmp_path: Path, env: dict[str, str]) -> None:
    """``sweeplab stop`` returns once the running program has logged that it saw the stop
    (not before: the user then knows it is stopping), and within a second of that."""
    path = example(tmp_path, "quadratic", limits={"max_trials": 4, "max_parallel": 1,
                                                  "max_epochs": 400},
                   env={"QUADRATIC_EPOCH_SECONDS": "0.05"})
    with app_process(env, "run", path) as proc, Store(env["SWEEPLAB_DB"]) as store:
        wait_until(lambda: trials_of(store, "quadratic-demo", TrialState.RUNNING),
                   timeout=60, what="a running trial")
        result = sweeplab(env, "stop", "quadratic-demo")
        returned = datetime.now(UTC)
        assert result.returncode == 0, result.stderr
        assert "the sweeplab running quadratic-demo is stopping its trials" in result.stdout
        exp = store.get_experiment("quadratic-demo")
        answers = [event for event in store.list_events(exp.id) if event.message == STOP_SEEN]
        assert len(answers) == 1  # answered before stop returned
        late = (returned - answers[0].time).total_seconds()
        assert late <= 1.0, f"stop returned {late:.2f} s after the run answered"
        proc.communicate(timeout=60)
        exp = store.get_experiment("quadratic-demo")
        assert exp.state is ExperimentState.STOPPED
        assert store.list_trials(exp.id)[0].state is TrialState.STOPPED


def test_stop_of_an_experiment_no_program_runs_returns_at_once(
        tmp_path: Path, env: dict[str, str]) -> None:
    """Left running by a program that is gone (no live lease), nobody can answer: stop
    marks it stopped and says so without waiting."""
    with Store(env["SWEEPLAB_DB"]) as store:
        experiment = store_experiment(store, tmp_path, "print('hi')\n")
        store.update_experiment(experiment, state=ExperimentState.RUNNING)
    started = time.monotonic()
    result = sweeplab(env, "stop", str(experiment))
    assert result.returncode == 0, result.stderr
    assert "no program runs" in result.stdout and "marked stopped" in result.stdout
    assert time.monotonic() - started < STOP_ANSWER_SECONDS
    with Store(env["SWEEPLAB_DB"]) as store:
        assert store.get_experiment(experiment).state is ExperimentState.STOPPED


BAD_EXPERIMENTS = [
    ({"kpi": {"goal": "up"}}, ["kpi.name: missing", "kpi.goal: unknown 'up'"]),
    ({"limits": {"max_trials": 0, "max_parallel": "two"}},
     ["limits.max_trials: must be >= 1", "limits.max_parallel: expected a whole number"]),
    ({"command": "{python} train.py --lr {lr}"}, ["command: unknown placeholder {lr}"]),
    ({"code_dir": "/nonexistent/dir"}, ["code_dir: /nonexistent/dir is not a directory"]),
    ({"space": "missing.yaml"}, ["missing.yaml: no such file"]),
    ({"algorithm": {"name": "bayes"}}, ["algorithm.name: unknown 'bayes'"]),
    ({"metrics": [{"name": "loss", "regex": "loss=("}]}, ["metrics[0]:"]),
    ({"hosts": ["gpu-box"]}, ["hosts: unknown host 'gpu-box'"]),
    ({"colour": "blue"}, ["colour: unknown field"]),
    ({"version": 9}, ["version: unknown version 9"]),
    ({"limits": {"max_trial_seconds": -1}}, ["limits.max_trial_seconds: expected a positive"]),
]


@pytest.mark.parametrize(("changes", "expected"), BAD_EXPERIMENTS,
                         ids=[e[1][0].split(":")[0] for e in BAD_EXPERIMENTS])
def test_bad_experiment_files_exit_2_naming_each_problem(
    tmp_path: Path, env: dict[str, str], changes: dict[str, object], expected: list[str]
) -> None:
    path = example(tmp_path, "quadratic")
    doc = load_file(path)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
            if key == "kpi" and "goal" in value:
                doc[key].pop("name")
        else:
            doc[key] = value
    path.write_text(dump_text(doc))
    result = sweeplab(env, "run", path)
    assert result.returncode == 2
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not Path(env["SWEEPLAB_DB"].removeprefix("sqlite:///")).exists() or not sweeplab(
        env, "ls").stdout.count("quadratic-demo")


def test_names_with_brackets_are_shown_as_typed(tmp_path: Path, env: dict[str, str]) -> None:
    name = "lr[0.1] [bold]b[/]"
    definition = load_experiment(example(tmp_path, "quadratic")).to_dict() | {"name": name}
    with Store(env["SWEEPLAB_DB"]) as store:
        store.create_experiment(name, definition)
    listing = sweeplab(env, "ls")
    assert listing.returncode == 0, listing.stderr
    assert "lr[0.1] [bold]b[/]" in listing.stdout
    show = sweeplab(env, "show", "lr[0.1] [bold]b[/]")
    assert show.returncode == 0, show.stderr
    assert "lr[0.1] [bold]b[/] (draft), 0 trials" in show.stdout
