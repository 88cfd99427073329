"""The Help menu: reporting metrics (examples that really report), shortcuts, About."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import PySide6
import pytest
import yaml
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.protocol import LineParser, MetricRegex, MetricReport, ProgressReport
from app.views.help_dialogs import (
    AboutDialog,
    ReportingHelpDialog,
    ShortcutsDialog,
    package_version,
    shortcut_rows,
)
from app.views.help_text import examples, print_line_text, reporting_html, sdk_snippet
from app.views.main_window import MainWindow
from devtools.screenshots.help import render_screenshots
from tests.views.test_main_window import ROOT
from tests.views.window_helpers import open_window

SDK_DIR = ROOT / "app" / "sdk"


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    with open_window(qtbot, tmp_path) as win:
        config = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml")
        win.workspace.create(config)
        win.reload_experiments()
        yield win


def opened(window: MainWindow, name: str, kind: type) -> object:
    window.actions_by_name[name].trigger()
    found = [d for d in window.findChildren(kind) if d.isVisible()]
    assert len(found) == 1, f"{name} opened {len(found)} windows"
    return found[0]


def reports_of(kpi: str, output: str) -> list[object]:
    parser = LineParser(kpi)
    return [report for line in output.splitlines() for report in parser.parse(line)]


def test_help_menu_items(window: MainWindow) -> None:
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions() if not a.isSeparator()] == [
        "&Guided setup…", "&Reporting metrics", "&Keyboard shortcuts", "&About Sweeplab"]


def test_reporting_metrics_shows_the_four_ways_and_copies_each_example(
        qtbot: QtBot, window: MainWindow) -> None:
    dialog = opened(window, "help_metrics", ReportingHelpDialog)
    assert isinstance(dialog, ReportingHelpDialog)
    text = dialog.browser.toPlainText()
    for title in ("1. The Python SDK", "2. A marked line, from any language",
                  "3. Your own log lines, read by a regex", "4. Auptimizer's result line"):
        assert title in text
    # the examples use the shown experiment's KPI (the demo's is "loss")
    assert 'sweeplab.report("loss", loss, step=epoch)' in text
    dialog.browser.anchorClicked.emit(QUrl("copy:1"))
    assert QGuiApplication.clipboard().text() == examples("loss")[1].code
    assert dialog.copied.text() == "Copied: 2. A marked line, from any language"
    with pytest.raises(IndexError, match="no example 4: there are 4"):
        dialog.copy_example(4)
    dialog.close()


def test_the_sdk_example_reports_when_pasted_into_a_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("def train_one_epoch(lr):\n    return lr * 10\n\n" + sdk_snippet("val acc"))
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR), "SWEEPLAB_MAX_EPOCHS": "3"}
    env.pop("SWEEPLAB_PARAMS", None)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    reports = reports_of("val acc", result.stdout)
    assert [r for r in reports if isinstance(r, MetricReport)] == [
        MetricReport("val acc", 0.01, step) for step in (1, 2, 3)]
    assert ProgressReport(3, 3) in reports


def test_the_other_examples_are_read_by_the_protocol_parser() -> None:
    assert reports_of("val_acc", print_line_text("val_acc")) == [
        MetricReport("val_acc", 0.42, 3)]
    marked = examples("val_acc")[1].code.splitlines()
    shell_lines = [line for line in marked if line.startswith("echo ")]
    printed = subprocess.run(["sh", "-c", "\n".join(shell_lines)], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    assert reports_of("val_acc", printed) == [MetricReport("val_acc", 0.42, 3),
                                              ProgressReport(3, 10)]
    spec = yaml.safe_load(examples("val_acc")[2].code)["metrics"][0]
    regex = MetricRegex.compile(spec["name"], spec["regex"], spec["step_regex"])
    assert LineParser("val_acc", [regex]).parse("epoch=3 val_acc=0.4213") == [
        MetricReport("val_acc", 0.4213, 3)]
    auptimizer = examples("val_acc")[3].code
    printed = subprocess.run([sys.executable, "-c", auptimizer], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    assert reports_of("val_acc", printed) == [MetricReport("val_acc", 0.42, None)]
    assert "<pre" in reporting_html("x") and "copy:3" in reporting_html("x")


def test_keyboard_shortcuts_come_from_the_windows_actions(window: MainWindow) -> None:
    dialog = opened(window, "shortcuts", ShortcutsDialog)
    assert isinstance(dialog, ShortcutsDialog)
    native = QKeySequence.SequenceFormat.NativeText

    def key(sequence: QKeySequence | QKeySequence.StandardKey | str) -> str:
        return QKeySequence(sequence).toString(native)

    shown = {(text, where): keys for text, keys, where in dialog.rows}
    assert shown[("Start", "everywhere")] == "F5"
    assert shown[("Save space", "everywhere")] == key(QKeySequence.StandardKey.Save)
    assert shown[("Export trials as CSV…", "everywhere")] == key("Ctrl+E")
    assert shown[("Reporting metrics", "everywhere")] == key(
        QKeySequence.StandardKey.HelpContents)
    assert shown[("Quit", "everywhere")] == key("Ctrl+Q")
    assert shown[("New experiment…", "everywhere")] == key(QKeySequence.StandardKey.New)
    assert shown[("Delete experiment", "experiment list")] == key(
        QKeySequence.StandardKey.Delete)
    assert shown[("Undo", "Space tab")] == key(QKeySequence.StandardKey.Undo)
    assert dialog.rows[0][2] == "everywhere", "window-wide shortcuts come first"
    assert dialog.table.rowCount() == len(dialog.rows)
    assert dialog.table.item(0, 2).text() == "everywhere"
    dialog.close()


def test_no_two_window_wide_actions_share_a_shortcut(window: MainWindow) -> None:
    seen: dict[str, str] = {}
    for action in window.findChildren(QAction):
        if action.shortcutContext() is not Qt.ShortcutContext.WindowShortcut:
            continue
        for key in action.shortcuts():
            text = key.toString()
            assert text not in seen, f"{text}: {seen.get(text)!r} and {action.text()!r}"
            seen[text] = action.text()


def test_shortcut_rows_drop_mnemonics_repeats_and_actions_without_keys(qtbot: QtBot) -> None:
    first, again, bare, two = (QAction("&Save && go"), QAction("&Save && go"),
                               QAction("No keys"), QAction("Re&fresh"))
    first.setShortcut(QKeySequence("Ctrl+S"))
    again.setShortcut(QKeySequence("Ctrl+S"))
    two.setShortcuts([QKeySequence("F5"), QKeySequence("Ctrl+R")])
    native = QKeySequence.SequenceFormat.NativeText
    assert shortcut_rows([two, first, bare, again]) == [
        ("Refresh", f"F5, {QKeySequence('Ctrl+R').toString(native)}", ""),
        ("Save & go", QKeySequence("Ctrl+S").toString(native), "")]


def test_about_lists_the_versions_and_the_database(window: MainWindow) -> None:
    dialog = opened(window, "about", AboutDialog)
    assert isinstance(dialog, AboutDialog)
    rows = dict(dialog.rows)
    assert rows["Sweeplab"] == package_version("sweeplab") != "not installed"
    assert rows["Python"].startswith(platform.python_version())
    assert rows["PySide6"] == PySide6.__version__
    for name in ("Qt", "pyqtgraph", "hyperopt", "SQLAlchemy", "paramiko"):
        assert rows[name] and rows[name] != "not installed", name
    assert rows["Database"] == window.workspace.store.url
    assert dialog.table.item(dialog.table.rowCount() - 1, 1).text() == window.workspace.store.url
    copied = dialog.copy_versions()
    assert QGuiApplication.clipboard().text() == copied
    assert f"Database: {window.workspace.store.url}\n" in copied
    assert package_version("no-such-package-sweeplab") == "not installed"
    dialog.close()


def test_help_screenshots_render(qtbot: QtBot, tmp_path: Path) -> None:
    written = render_screenshots(tmp_path / "shots")
    assert [p.name for p in written] == ["help-about.png", "help-reporting-metrics.png",
                                         "first-run-welcome.png", "first-run-script.png",
                                         "first-run-report.png"]
    for path in written:
        picture = QImage(str(path))
        assert picture.width() >= 600 and picture.height() >= 400, path
