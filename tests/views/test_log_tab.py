"""The Log tabs: a failure shown whole, times on live lines too, long lines wrapped, and a
trial's log with its #sweeplab lines hidden (or not)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.application.workspace import Workspace
from app.engine.search.base import Goal
from app.engine.trial import ExperimentState
from app.store.store import Store
from app.views.main_window import MainWindow
from app.views.trials.detail import TrialDetail
from app.views.trials.log_view import LogView, log_entry
from tests.helpers import store_experiment
from tests.views.test_trials_detail import record
from tests.views.window_helpers import wait_loaded

# No traceback, so the cause is only in the last lines of the log.
FAILING = """
print("loading the data")
print("error: shard 7 is corrupt, giving up")
raise SystemExit(1)
"""
CLOCK = re.compile(r"^\d\d:\d\d:\d\d  ")


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    store = Store(f"sqlite:///{tmp_path / 'gui.db'}")
    store_experiment(store, tmp_path, FAILING, limits={"max_trials": 1, "max_parallel": 1})
    workspace = Workspace(store, grace=1.0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(workspace, "test", settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    workspace.close()
    store.close()


def test_a_failure_is_shown_whole_and_every_live_line_has_its_time(qtbot: QtBot,
                                                                   window: MainWindow) -> None:
    """The trial's message goes on past "…exited with code 1; last lines:" to the lines
    that say why, live and as stored; live lines carry their time like stored ones."""
    experiment_id = window.current_id
    assert experiment_id is not None
    window.workspace.start(experiment_id)
    qtbot.waitUntil(lambda: window.workspace.experiment(experiment_id).state
                    is ExperimentState.FAILED, timeout=30_000)
    qtbot.waitUntil(lambda: "shard 7 is corrupt" in window.log.text(), timeout=10_000)
    for shown in (window.log.text(), None):
        if shown is None:  # and the same from the database, as after a restart
            window.show_experiment(experiment_id)
            wait_loaded(window)  # the log comes with the trials, read off the GUI thread
            shown = window.log.text()
        lines = shown.splitlines()
        at = next(i for i, line in enumerate(lines)
                  if "trial 1 failed: the trial exited with code 1; last lines:" in line)
        assert CLOCK.match(lines[at])
        assert lines[at + 1:at + 3] == ["          loading the data",
                                        "          error: shard 7 is corrupt, giving up"]
        entries = [line for line in lines if not line.startswith(" ")]
        assert entries and all(CLOCK.match(line) for line in entries), entries  # live too


def test_entries_indent_their_further_lines_under_a_local_time() -> None:
    moment = datetime(2024, 5, 6, 9, 0, 3, tzinfo=UTC)
    clock = f"{moment.astimezone():%H:%M:%S}"
    assert log_entry(moment, "one\ntwo\n") == f"{clock}  one\n          two\n"
    assert log_entry(moment.replace(tzinfo=None), "plain") == f"{clock}  plain\n"


def test_long_lines_wrap_at_the_width_of_the_view(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_text("word " * 200 + "\nshort\n")
    first = view.editor.document().firstBlock()
    qtbot.waitUntil(lambda: first.layout().lineCount() > 1)
    assert view.editor.horizontalScrollBar().maximum() == 0  # nothing to scroll sideways


PROTOCOL_LOG = ("starting\n"
                '#sweeplab {"metric": "loss", "value": 0.5, "step": 1}\n'
                'epoch 1  50%|###   #sweeplab {"progress": 1, "total": 2}\n'
                "\n"
                "done with epoch 1\n")


def test_a_trial_log_hides_its_protocol_lines_unless_asked(qtbot: QtBot) -> None:
    detail = TrialDetail(record(), [], PROTOCOL_LOG, "python train.py", "loss", Goal.MIN)
    qtbot.addWidget(detail)
    log = detail.log
    assert log.hide_protocol.isVisibleTo(log) and log.hide_protocol.isChecked()
    assert log.text() == "starting\nepoch 1  50%|###\n\ndone with epoch 1\n"
    # live output split anywhere, even inside the marker
    log.append_log('epoch 2\n#swee')
    assert log.text().endswith("epoch 2\n#swee")  # not known yet to be a report
    log.append_log('plab {"metric": "loss", "value": 0.25, "step": 2}\nfin')
    log.append_log("ished\n")
    assert log.text().endswith("done with epoch 1\nepoch 2\nfinished\n")
    log.find_box.setText("sweeplab")
    assert log.match_count() == 0
    log.hide_protocol.click()  # show everything as written
    assert log.text() == (PROTOCOL_LOG + "epoch 2\n"
                          '#sweeplab {"metric": "loss", "value": 0.25, "step": 2}\nfinished\n')
    assert log.match_count() == 3
    log.hide_protocol.click()
    assert "#sweeplab" not in log.text()


def test_the_experiment_log_has_no_protocol_toggle(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    view.set_text('#sweeplab {"progress": 1}\n')
    assert not view.hide_protocol.isVisibleTo(view)
    assert view.text() == '#sweeplab {"progress": 1}\n'
