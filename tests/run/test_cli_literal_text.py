"""Every text a user wrote is printed literally by the terminal commands: an experiment,
KPI, metric, server or path holding Rich markup characters (``tokens[/s]``, ``lr[/]``,
``[bold]``) is shown as typed, and never ends a run with a MarkupError.

Each place is seen through the real command: the progress line, a trial's line with
its error, the run's summary table, ``ls``, ``show``, ``servers ls``, ``clusters ls``
and an error.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers import SPACE_X
from tests.reliability.bad_support import TRACEBACK, assert_refused, sweeplab

NAME = "mark[/]up [bold]x"
KPI = "tokens[/s]"
METRIC = "lr[/]"
TRAIN = f"""\
import os, sweeplab
sweeplab.report({METRIC!r}, 0.1, step=1)
if int(os.environ["SWEEPLAB_TRIAL_ID"]) == 1:
    sweeplab.report({KPI!r}, 42.0, step=1)
"""


def _experiment(folder: Path) -> Path:
    code = folder / "code [red]"
    code.mkdir(parents=True)
    (code / "train.py").write_text(TRAIN)
    path = code / "experiment.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "name": NAME, "command": "{python} train.py",
        "kpi": {"name": KPI, "goal": "max"}, "space": SPACE_X,
        "algorithm": {"name": "random", "seed": 1},
        "limits": {"max_trials": 2, "max_parallel": 1},
    }))
    return path


def test_names_with_markup_characters_are_printed_as_typed(tmp_path: Path) -> None:
    home, db = tmp_path / "home", str(tmp_path / "db [x]" / "sweeplab.db")
    (tmp_path / "db [x]").mkdir()
    ran = sweeplab("run", str(_experiment(tmp_path)), "--db", db, home=home)
    assert ran.code == 0 and TRACEBACK not in ran.text, ran.text
    lines = ran.out.splitlines()
    assert any(line.startswith(f"{NAME} ") and f"best {KPI} 42" in line
               for line in lines), ran.out  # the progress line
    assert f"trial 1: completed {KPI}=42" in ran.out
    assert f"trial 2: failed {KPI}=— — the trial never reported the KPI '{KPI}'" in ran.out
    assert f"best trials of {NAME}" in ran.out and f"┃ {KPI} ┃" in ran.out
    assert f"{NAME}: completed, 2 trials" in ran.out

    listed = sweeplab("ls", "--db", db, home=home)
    assert listed.code == 0 and TRACEBACK not in listed.text, listed.text
    assert listed.out.startswith("experiments in"), listed.out
    assert f"│ {NAME} │" in listed.out and f"{KPI} 42" in listed.out

    shown = sweeplab("show", NAME, "--db", db, home=home)
    assert shown.code == 0 and TRACEBACK not in shown.text, shown.text
    assert f"{NAME} (completed), 2 trials" in shown.out and f"┃ {KPI} ┃" in shown.out

    again = sweeplab("run", str(_experiment(tmp_path / "again")), "--db", db, home=home)
    assert_refused(again, f"an experiment named {NAME!r} already exists", "run again")


def test_server_and_cluster_texts_with_brackets_are_listed_as_typed(tmp_path: Path) -> None:
    home, db = tmp_path / "home", str(tmp_path / "sweeplab.db")
    added = sweeplab("servers", "add", "box", "--host", "h", "--user", "u", "--agent",
                     "--setup", "conda activate [/env]", "--workdir", "/w/[b]", "--db", db,
                     home=home)
    assert added.code == 0, added.text
    listed = sweeplab("servers", "ls", "--db", db, home=home)
    assert listed.code == 0 and TRACEBACK not in listed.text, listed.text
    assert "conda activate [/env]" in listed.out and "/w/[b]" in listed.out
    cluster = sweeplab("clusters", "add", "hpc", "--workdir", "/scratch/[/u]", "--db", db,
                       home=home)
    assert cluster.code == 0, cluster.text
    listed = sweeplab("clusters", "ls", "--db", db, home=home)
    assert listed.code == 0 and TRACEBACK not in listed.text, listed.text
    assert "/scratch/[/u]" in listed.out
