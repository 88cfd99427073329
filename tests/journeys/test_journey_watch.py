"""Journey 2: watch a live grid, hover a tile, open the trial and see its chart grow.

Two trials run side by side; each reports ``loss`` for three steps and then waits
(on a gate file the test creates, standing in for a long epoch) before reporting
three more. The user watches the grid, rests the mouse on a tile (its tooltip shows
the params and the latest loss), clicks it, and sees the detail's loss curve grow as
the trial goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.helpers import gated_trial
from tests.journeys.steps import (
    WAIT_MS,
    hover_tile,
    lab_window,
    open_tile,
    reopen_detail,
    show_tab,
    state_shown,
    tiles,
    toolbar_click,
    wait_status,
)


def tip_lines(tip: str) -> dict[str, str]:
    """A tooltip's ``name = value`` and ``label: value`` lines, by name."""
    lines: dict[str, str] = {}
    for line in tip.splitlines():
        for sep in (" = ", ": "):
            if sep in line:
                name, _, value = line.partition(sep)
                lines.setdefault(name.strip(), value.strip())
                break
    return lines


def test_watch_the_grid_hover_a_tile_and_see_the_detail_chart_grow(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = tmp_path / "gate"
    with lab_window(qtbot, tmp_path, monkeypatch, gated_trial(6, hold_at=3),
                    limits={"max_trials": 2, "max_parallel": 2},
                    env={"GATE": str(gate)}) as window:
        show_tab(window, "Trials")
        assert tiles(window) == []
        toolbar_click(window, "Start")
        qtbot.waitUntil(lambda: len(tiles(window)) == 2, timeout=WAIT_MS)
        wait_status(qtbot, window, "running 2")
        assert state_shown(window) == "running"

        # both trials reach their third step: the tooltip shows it, with the latest loss
        first = tiles(window)[0]

        def third_step_shown() -> bool:
            lines = tip_lines(hover_tile(window, first))
            return ("3" in lines.get("progress", "") and lines["loss"].split()[0] != "—"
                    and float(lines["loss"].split()[0]) == pytest.approx(
                        float(lines["x"]) + 1 / 3, rel=1e-4))

        # the progress and the latest loss may show a moment apart: wait for both
        qtbot.waitUntil(third_step_shown, timeout=WAIT_MS)
        tip = hover_tile(window, first)
        lines = tip_lines(tip)
        assert tip.startswith("Trial 1 — running"), tip
        x = float(lines["x"])
        assert 0.0 <= x <= 1.0
        assert lines["host"].startswith("local"), tip

        # the trial's detail: its loss curve has the three steps, then grows
        detail = open_tile(qtbot, window, first)
        assert detail.windowTitle() == "Trial 1 — running"
        assert detail.stop_button.isEnabled()
        assert "loss" in detail.curve_names()
        steps, values = detail.curve_data("loss")
        assert list(steps) == [1.0, 2.0, 3.0]
        assert values[-1] == pytest.approx(x + 1 / 3)
        gate.touch()  # the epochs go on: the tile says when the trial is done
        qtbot.waitUntil(lambda: hover_tile(window, first).startswith("Trial 1 — completed"),
                        timeout=WAIT_MS)
        detail = reopen_detail(qtbot, window, detail)
        qtbot.waitUntil(lambda: len(detail.curve_data("loss")[0]) == 6, timeout=10_000)
        steps, values = detail.curve_data("loss")
        assert list(steps) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        assert values[-1] == pytest.approx(x + 1 / 6)
        assert detail.windowTitle() == "Trial 1 — completed"
        assert not detail.stop_button.isEnabled()

        wait_status(qtbot, window, "completed 2")
        qtbot.waitUntil(lambda: state_shown(window) == "completed", timeout=WAIT_MS)
        tip = hover_tile(window, first)
        assert tip.startswith("Trial 1 — completed"), tip
        assert float(tip_lines(tip)["loss"].split()[0]) == pytest.approx(x + 1 / 6, rel=1e-4)
        detail.close()
