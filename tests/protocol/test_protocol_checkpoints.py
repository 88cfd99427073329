"""Checkpoints in the trial protocol: the SDK saves, publishes and says so; the parser
reads the line; a restore is offered through the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.engine.live import LiveTrial
from app.engine.protocol import (
    ENV_CHECKPOINT_DIR,
    ENV_RESTORE_DIR,
    ENV_START_STEP,
    CheckpointReport,
    LineParser,
    ProtocolWarning,
    published_checkpoint,
)
from app.sdk import SDK_FILE

SCRIPT = r"""
import sweeplab
start = sweeplab.start_step()
restored = sweeplab.restore_dir()
value = 0 if restored is None else int((restored / "state.txt").read_text())
print("start", start, "restored", value, flush=True)
for step in range(start + 1, start + 6):
    value += 1
    (sweeplab.checkpoint_dir() / "state.txt").write_text(str(value))
    sweeplab.checkpointed(step)
"""


def _run(tmp_path: Path, env: dict[str, str]) -> list[str]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SWEEPLAB_")}
    done = subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                          text=True, cwd=tmp_path,
                          env={**clean, "PYTHONPATH": str(SDK_FILE.parent), **env})
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_a_checkpoint_is_published_by_step_and_the_line_reads_back(tmp_path: Path) -> None:
    trial = tmp_path / "trial"
    lines = _run(tmp_path, {ENV_CHECKPOINT_DIR: str(trial / "checkpoint")})
    assert lines[0] == "start 0 restored 0"
    parser = LineParser("loss")
    assert [parser.parse(line) for line in lines[1:]] == [
        [CheckpointReport(step)] for step in range(1, 6)]
    kept = sorted(int(p.name) for p in (trial / "checkpoints").iterdir())
    assert kept == [1, 2, 3, 4, 5]  # none is old enough to go yet
    assert (Path(published_checkpoint(str(trial), 5)) / "state.txt").read_text() == "5"
    assert list((trial / "checkpoint").iterdir()) == []  # the next one starts empty


def test_published_checkpoints_beyond_the_newest_three_go_once_old(tmp_path: Path) -> None:
    published = tmp_path / "trial" / "checkpoints"
    for step in (1, 2):  # published long ago
        (published / str(step)).mkdir(parents=True)
        os.utime(published / str(step), (1, 1))
    lines = _run(tmp_path, {ENV_CHECKPOINT_DIR: str(tmp_path / "trial" / "checkpoint")})
    assert lines[0] == "start 0 restored 0"
    # steps 1 and 2 were written again by this run (new), so nothing is old: all stay
    assert sorted(int(p.name) for p in published.iterdir()) == [1, 2, 3, 4, 5]
    (published / "0").mkdir()
    os.utime(published / "0", (1, 1))
    for step in (1, 2):
        os.utime(published / str(step), (1, 1))
    _run(tmp_path, {ENV_CHECKPOINT_DIR: str(tmp_path / "trial" / "checkpoint"),
                    ENV_START_STEP: "5"})
    # the old ones beyond the newest three are gone; recent ones stay
    assert sorted(int(p.name) for p in published.iterdir()) == [3, 4, 5, 6, 7, 8, 9, 10]


def test_a_trial_continues_from_a_restore_dir_and_its_start_step(tmp_path: Path) -> None:
    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "state.txt").write_text("40")
    lines = _run(tmp_path, {ENV_CHECKPOINT_DIR: str(tmp_path / "t" / "checkpoint"),
                            ENV_RESTORE_DIR: str(restore), ENV_START_STEP: "4"})
    assert lines[0] == "start 4 restored 40"
    assert LineParser("loss").parse(lines[-1]) == [CheckpointReport(9)]
    assert (tmp_path / "t" / "checkpoints" / "9" / "state.txt").read_text() == "45"


def test_by_hand_it_checkpoints_into_the_working_directory(tmp_path: Path) -> None:
    lines = _run(tmp_path, {})
    assert lines[0] == "start 0 restored 0"
    assert (tmp_path / "checkpoints" / "5" / "state.txt").read_text() == "5"


def test_bad_checkpoint_lines_are_warnings() -> None:
    parser = LineParser("loss")
    for line in ('#sweeplab {"checkpoint": -1}', '#sweeplab {"checkpoint": "x"}',
                 '#sweeplab {"checkpoint": 3, "metric": "a", "value": 1}'):
        (report,) = parser.parse(line)
        assert isinstance(report, ProtocolWarning), line


def test_the_live_trial_collects_checkpoint_steps() -> None:
    from datetime import UTC, datetime

    from app.engine.experiment import Kpi
    from app.engine.records import TrialRecord
    from app.engine.search.base import Goal
    from app.engine.trial import TrialState

    record = TrialRecord(1, 1, 1, TrialState.RUNNING, {}, datetime.now(UTC))
    live = LiveTrial(record, executor=None, kpi=Kpi("loss", Goal.MIN))  # type: ignore[arg-type]
    reading = live.read(('#sweeplab {"metric": "loss", "value": 1, "step": 2}',
                         '#sweeplab {"checkpoint": 2}'), LineParser("loss"), 0.0)
    assert reading.checkpoints == [2]
