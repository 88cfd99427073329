"""Journey 5: export the trials as CSV and the best trial's params, then read them back.

After a short run of three trials, the user chooses File → Export trials as CSV… and
File → Export best params.json…, names the files in the save dialogs (answered by
standing in for Qt's static file dialog, as tests/views/test_exports_menu.py does),
sees the status bar confirm each, and finds in the files what the tiles showed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from tests.journeys.steps import (
    choose,
    hover_tile,
    lab_window,
    show_tab,
    status_message,
    tiles,
    toolbar_click,
    wait_status,
)
from tests.views.test_exports_menu import SaveDialog

SCRIPT = """
import sweeplab
x = float(sweeplab.param("x"))
sweeplab.report("loss", (x - 0.3) ** 2, step=1)
"""


def shown_params(tip: str) -> dict[str, float]:
    """The ``name = value`` lines of a tile's tooltip, as numbers."""
    return {name: float(value) for name, _, value in
            (line.partition(" = ") for line in tip.splitlines() if " = " in line)}


def shown_loss(tip: str) -> float:
    line = next(line for line in tip.splitlines() if line.startswith("loss: "))
    return float(line.split()[1])


def test_export_the_trials_as_csv_and_the_best_params_and_read_them_back(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_as = SaveDialog()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    with lab_window(qtbot, tmp_path, monkeypatch, SCRIPT,
                    limits={"max_trials": 3, "max_parallel": 2}) as window:
        show_tab(window, "Trials")
        toolbar_click(window, "Start")
        wait_status(qtbot, window, "completed 3", timeout=60_000)
        # the run's end, whose notice takes the status bar's passing message (the
        # counts may show before it): a confirmation shown earlier would be replaced
        wait_status(qtbot, window, "completed · ")
        tips = {trial_id: hover_tile(window, trial_id) for trial_id in tiles(window)}
        xs = sorted(shown_params(tip)["x"] for tip in tips.values())

        # File → Export trials as CSV…
        out = tmp_path / "exports" / "trials.csv"
        out.parent.mkdir()
        save_as.answers.append(out)
        choose(window, "File", "Export trials as CSV…")
        qtbot.waitUntil(lambda: "exported" in status_message(window), timeout=10_000)
        assert "3 trials" in status_message(window) and str(out) in status_message(window)
        assert not out.read_bytes().startswith(b"\xef\xbb\xbf"), "no byte-order mark"
        with out.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 3
        assert sorted(float(row["x"]) for row in rows) == pytest.approx(xs)
        assert all(row["state"] == "completed" for row in rows)

        # File → Export best params.json…: the lowest loss among the tiles
        best_tip = min(tips.values(), key=shown_loss)
        best_number = best_tip.split()[1]  # "Trial 2 — completed ..."
        target = tmp_path / "exports" / "params.json"
        save_as.answers.append(target)
        choose(window, "File", "Export best params.json…")
        qtbot.waitUntil(lambda: str(target) in status_message(window), timeout=10_000)
        assert f"trial {best_number}" in status_message(window)
        document = json.loads(target.read_text(encoding="utf-8"))
        assert document["dotted"]["x"] == pytest.approx(shown_params(best_tip)["x"], rel=1e-5)
        assert [Path(asked[0]).name for asked in save_as.asked] == ["trials.csv", "params.json"]
        # the second export is suggested in the folder of the first
        assert Path(save_as.asked[1][0]).parent == out.parent
