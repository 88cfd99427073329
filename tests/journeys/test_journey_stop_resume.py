"""Journey 3: stop one trial, stop all, resume, restart with new code.

Trials report ``loss`` every few hundredths of a second until a gate file exists (the
test creates it when the user would let them finish). The user stops one trial from
its detail (it ends "stopped", the run goes on), stops everything, resumes (the budget
of four trials goes on where it was), then edits the training script and restarts:
after confirming, the old trials are gone and the new ones ran the new code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.journeys.steps import (
    WAIT_MS,
    click,
    code_dir,
    count_shown,
    hover_tile,
    lab_window,
    open_tile,
    point_on,
    show_tab,
    state_shown,
    tiles,
    toolbar_click,
    wait_status,
)
from tests.views.window_helpers import Answer

SCRIPT = """
import os, pathlib, time, sweeplab
print("code v1", flush=True)
x = sweeplab.param("x")
gate = pathlib.Path(os.environ["GATE"])
step = 0
while True:
    step += 1
    sweeplab.report("loss", x + 1.0 / step, step=step)
    if gate.exists():
        break
    time.sleep(0.05)
"""


def test_stop_one_trial_stop_all_resume_then_restart_with_new_code(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = tmp_path / "gate"
    with lab_window(qtbot, tmp_path, monkeypatch, SCRIPT,
                    limits={"max_trials": 4, "max_parallel": 2},
                    env={"GATE": str(gate)}) as window:
        show_tab(window, "Trials")
        toolbar_click(window, "Start")
        wait_status(qtbot, window, "running 2")
        assert (point_on(window, "stop"), point_on(window, "start")) == ("on", "off")

        # stop one trial from its detail: it ends "stopped", the run goes on
        first = tiles(window)[0]
        qtbot.waitUntil(lambda: hover_tile(window, first).startswith("Trial 1 — running"),
                        timeout=WAIT_MS)
        detail = open_tile(qtbot, window, first)
        click(detail.stop_button)
        qtbot.waitUntil(lambda: hover_tile(window, first).startswith("Trial 1 — stopped"),
                        timeout=WAIT_MS)
        qtbot.waitUntil(lambda: len(tiles(window)) == 3 and count_shown(window, "running") == 2,
                        timeout=WAIT_MS)
        assert state_shown(window) == "running" and count_shown(window, "stopped") == 1
        detail.close()

        # stop all: nothing runs, Resume and Start are offered
        toolbar_click(window, "Stop")
        qtbot.waitUntil(lambda: state_shown(window) == "stopped"
                        and count_shown(window, "running") == 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: point_on(window, "resume") == "on", timeout=WAIT_MS)
        assert point_on(window, "stop") == "off"
        assert count_shown(window, "stopped") == 3 and len(tiles(window)) == 3

        # resume: the budget of four goes on (one more trial), the stopped ones stay
        gate.touch()  # the trials from now on run to their end
        toolbar_click(window, "Resume")
        wait_status(qtbot, window, "completed 1")
        qtbot.waitUntil(lambda: state_shown(window) == "completed", timeout=WAIT_MS)
        assert len(tiles(window)) == 4 and count_shown(window, "stopped") == 3
        assert "code v1" in open_tile(qtbot, window, tiles(window)[-1]).log.text()

        # restart after editing the script: asked first; old trials gone, new code run
        script = code_dir(window) / "train.py"
        script.write_text(script.read_text().replace("code v1", "code v2"))
        answer = Answer("Yes")
        toolbar_click(window, "Restart")
        assert answer.asked and "Drop every trial" in answer.text, answer.text
        qtbot.waitUntil(lambda: state_shown(window) == "completed"
                        and count_shown(window, "completed") == 4, timeout=60_000)
        assert len(tiles(window)) == 4 and count_shown(window, "stopped") == 0
        for trial_id in tiles(window):  # the stopped ones are gone (ids may be reused)
            assert hover_tile(window, trial_id).split("\n")[0].endswith("completed")
            log = open_tile(qtbot, window, trial_id).log.text()
            assert "code v2" in log and "code v1" not in log, log
