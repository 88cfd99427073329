"""The PBT tab: lineage, schedule and KPI-by-segment drawn from a picture read off the
GUI thread, arrays of equal length, export of the schedule and the lineage."""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.application.lineage import PbtPicture, Segment, read_picture
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.views.pbt import PbtPanel
from app.views.pbt.geometry import staircase
from tests.test_lineage import _population


class Source:
    """The store's reads :func:`read_picture` makes, over the test population; counts
    the threads it was called on."""

    def __init__(self) -> None:
        self.segments_list, self.trials = _population()
        self.threads: set[str] = set()

    def segments(self, experiment_id: int) -> Sequence[Segment]:
        self.threads.add(threading.current_thread().name)
        return self.segments_list

    def list_trials(self, experiment_id: int) -> list[TrialRecord]:
        return self.trials

    def get_metrics(self, trial_id: int, name: str | None = None) -> list[MetricPoint]:
        scale = 0.1 if trial_id == 11 else 0.05
        return [MetricPoint(trial_id, "acc", scale * s, s, float(s)) for s in range(1, 13)]


@pytest.fixture
def shown(qtbot: QtBot) -> tuple[PbtPanel, Source]:
    source = Source()
    panel = PbtPanel(lambda eid: read_picture(source, eid, "acc", Goal.MAX))
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.show_experiment(1)
    qtbot.waitUntil(lambda: panel.picture is not None, timeout=5000)
    return panel, source


def test_the_tab_draws_lineage_schedule_and_joined_segments(
        shown: tuple[PbtPanel, Source]) -> None:
    panel, source = shown
    assert source.threads == {"pbt-picture"}  # read off the GUI thread
    assert "2 trials, 4 segments, 2 exploits; best: trial 1" in panel.status.text()
    assert len(panel.lineage.spans) == 4
    ticks = panel.lineage.plot_widget.getPlotItem().getAxis("left")._tickLevels
    assert ticks == [[(1.0, "1"), (2.0, "2")]]  # one row per trial, no 1.5
    xs, ys = panel.lineage.edges.getData()
    assert list(xs) == [4, 4, 8, 8] and list(ys) == [1, 2, 2, 1]
    line = panel.schedule.lines["lr"]
    xs, ys = line.getData()
    assert len(xs) == len(ys) == 6
    assert list(np.round(10 ** ys if line.opts["logMode"][1] else ys, 6)) == [
        1.0, 1.0, 0.8, 0.8, 0.64, 0.64]
    assert list(xs) == [0, 4, 4, 8, 8, 12]
    for curve in panel.curves.curves:
        cx, cy = curve.getData()
        assert len(cx) == len(cy)
    jx, jy = panel.curves.joins.getData()
    assert sorted(zip(jx, jy, strict=True)) == [(4.0, pytest.approx(0.4)),
                                                 (8.0, pytest.approx(0.4))]
    assert panel.export_schedule.isEnabled() and panel.export_lineage.isEnabled()


def test_export_buttons_write_what_the_application_layer_writes(
        shown: tuple[PbtPanel, Source], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    panel, _ = shown
    target = tmp_path / "schedule.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    panel.export_schedule.click()
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [(r["from_step"], r["to_step"], r["lr"]) for r in rows] == [
        ("0", "4", "1.0"), ("4", "8", "0.8"), ("8", "12", "0.64")]
    target = tmp_path / "lineage.json"
    panel.export_lineage.click()
    assert '"copies"' in target.read_text(encoding="utf-8")


def test_another_experiment_clears_the_tab_and_a_failed_read_is_said(
        qtbot: QtBot) -> None:
    def broken(experiment_id: int) -> PbtPicture:
        raise ValueError(f"experiment {experiment_id} is gone")

    panel = PbtPanel(broken)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_experiment(7)
    qtbot.waitUntil(lambda: "experiment 7 is gone" in panel.status.text(), timeout=5000)
    assert not panel.export_schedule.isEnabled()


def test_staircase_arrays_are_of_equal_length() -> None:
    xs, ys = staircase([0, 4, 8], [1.0, 0.8, 0.64], 12)
    assert list(xs) == [0, 4, 4, 8, 8, 12] and list(ys) == [1.0, 1.0, 0.8, 0.8, 0.64, 0.64]
    assert [len(a) for a in staircase([], [], 3)] == [0, 0]
    with pytest.raises(ValueError, match="2 starts for 1 values"):
        staircase([0, 1], [1.0], 3)
