"""``ls``, ``show``, the progress bar and the run summary agree on the best trial (the one
rule of ``app.engine.best``), and a run whose trials all fail ends FAILED with exit 3.

The experiments are stored as a finished run leaves them, then looked at through the
real commands; ``resume`` of one that has nothing left to run shows its progress bar
and summary at once.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.engine.live import StopReason
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import experiment_doc, write_code

ROOT = Path(__file__).resolve().parents[2]
EXIT_FAILED = 3
TRACEBACK = ("ModuleNotFoundError: No module named 'torchx'\n"
             "the trial exited with code 1; last lines:\nTraceback (most recent call last):\n"
             "ModuleNotFoundError: No module named 'torchx'")

# name: the trials' (state, kpi, error), and the best loss every view must show ("—": none)
CASES: dict[str, tuple[list[tuple[TrialState, float | None, str | None]], str]] = {
    "mixed": ([(TrialState.COMPLETED, 0.25132, None), (TrialState.PRUNED, 0.1, None)],
              "0.25132"),
    "pruned-only": ([(TrialState.PRUNED, 0.4, None), (TrialState.PRUNED, 0.3, None)], "—"),
    "stopped-only": ([(TrialState.STOPPED, 0.2, StopReason.USER.value),
                      (TrialState.STOPPED, 0.1, StopReason.BUDGET.value)], "—"),
    "all-failed": ([(TrialState.FAILED, None, TRACEBACK), (TrialState.FAILED, None, TRACEBACK)],
                   "—"),
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
            "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "250"}


def sweeplab(env: dict[str, str], *args: str | Path,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=timeout)


def store_case(store: Store, code: Path, name: str,
               trials: list[tuple[TrialState, float | None, str | None]]) -> None:
    """``name`` as a run of two trials left it: its trials ended, itself completed."""
    doc: dict[str, Any] = experiment_doc(code, name=name,
                                         limits={"max_trials": 2, "max_parallel": 1})
    exp = store.create_experiment(name, doc)
    for number, (state, kpi, error) in enumerate(trials, start=1):
        trial = store.create_trial(exp.id, {"x": 0.1 * number})
        store.update_trial(trial.id, state=TrialState.RUNNING, host="local")
        store.update_trial(trial.id, state=state, kpi=kpi, error=error,
                           exit_code=1 if state is TrialState.FAILED else 0)
    store.update_experiment(exp.id, state=ExperimentState.COMPLETED)


def ls_best(listing: str, name: str) -> str:
    """The ``best KPI`` cell of ``name``'s row in ``sweeplab ls``."""
    row = next(line for line in listing.splitlines() if f" {name} " in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    return cells[4].removeprefix("loss ").strip()


def test_ls_show_progress_and_summary_agree_on_the_best(tmp_path: Path,
                                                        env: dict[str, str]) -> None:
    code = write_code(tmp_path, "import sweeplab\nsweeplab.report('loss', 1.0)\n")
    with Store.open(env["SWEEPLAB_DB"]) as store:
        for name, (trials, _) in CASES.items():
            store_case(store, code, name, trials)

    listing = sweeplab(env, "ls")
    assert listing.returncode == 0, listing.stderr
    for name, (_, best) in CASES.items():
        assert ls_best(listing.stdout, name) == best, (name, listing.stdout)

        show = sweeplab(env, "show", name)
        assert show.returncode == 0, show.stderr
        assert f"best loss {best}" in show.stdout, show.stdout

        resumed = sweeplab(env, "resume", name)
        out = resumed.stdout
        assert re.search(rf"running 0, best loss {re.escape(best)}(?![\d.])", out), out  # the bar
        assert f"best loss {best}" in out.splitlines()[-1], out  # the summary
        if name == "all-failed":
            assert resumed.returncode == EXIT_FAILED, out + resumed.stderr
            assert f"{name}: failed" in out
        else:
            assert resumed.returncode == 0, out + resumed.stderr
            assert f"{name}: completed" in out

    show = sweeplab(env, "show", "stopped-only").stdout
    assert "cut by the experiment's time budget" in show  # the budget-cut mark
    assert "(1 cut by the time budget)" in show
    assert "ModuleNotFoundError: No module named 'torchx'" in sweeplab(
        env, "show", "all-failed").stdout
    rows = list(csv.DictReader(io.StringIO(sweeplab(env, "export", "stopped-only").stdout)))
    assert [r["error"] for r in rows] == [StopReason.USER.value, StopReason.BUDGET.value]


def test_a_run_of_a_missing_command_stops_early_failed_and_exits_3(
        tmp_path: Path, env: dict[str, str]) -> None:
    code = write_code(tmp_path, "")
    path = tmp_path / "experiment.json"
    doc = experiment_doc(code, name="typo", command="pyhton3 train.py --x {x}",
                         limits={"max_trials": 30, "max_parallel": 1})
    path.write_text(__import__("json").dumps(doc))
    result = sweeplab(env, "run", path)
    out = result.stdout
    assert result.returncode == EXIT_FAILED, out + result.stderr
    assert ("stopping: the first 3 trials all failed the same way: pyhton3: command not "
            "found") in out, out
    assert "trial 1: failed loss=— — pyhton3: command not found" in out
    assert "typo: failed, 3 trials" in out
    assert "best loss —" in out
    listing = sweeplab(env, "ls").stdout
    assert "failed" in listing and ls_best(listing, "typo") == "—"
