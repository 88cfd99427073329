"""First run: the welcome wizard (demo or own script) and Help → Guided setup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QWizard
from pytestqt.qtbot import QtBot

from app.application.demo import DEMO_EXPERIMENT
from app.engine.experiment import load_experiment
from app.engine.search.base import Goal
from app.engine.space.nodes import Choice, NumberParam
from app.views.first_run import FirstRunWizard, PageId, Start
from app.views.guided import command_for, reports_already, unique_name
from app.views.main_window import MainWindow
from tests.views.window_helpers import open_window

DEMO_NAME = load_experiment(DEMO_EXPERIMENT).name


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's code directory with a training script that does not report yet."""
    folder = tmp_path / "mnist-cnn"
    folder.mkdir()
    (folder / "train.py").write_text("print('training')\n")
    return folder


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    with open_window(qtbot, tmp_path) as win:
        yield win


def wizards(window: MainWindow) -> list[FirstRunWizard]:
    return [w for w in window.findChildren(FirstRunWizard) if w.isVisible()]


def click(wizard: FirstRunWizard, button: QWizard.WizardButton) -> None:
    assert wizard.button(button).isEnabled(), f"{button} is disabled: {wizard.problem()}"
    wizard.button(button).click()


def test_no_wizard_unless_asked(qtbot: QtBot, window: MainWindow) -> None:
    QApplication.processEvents()
    assert wizards(window) == []
    assert window.experiments.rowCount() == 0


def test_a_new_user_is_offered_the_demo(qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path, first_run=True) as window:
        qtbot.waitUntil(lambda: len(wizards(window)) == 1)
        wizard = wizards(window)[0]
        assert wizard.currentId() == PageId.WELCOME
        wizard.demo_button.click()
        assert not wizard.isVisible() and wizard.choice() is Start.DEMO
        qtbot.waitUntil(lambda: window.experiments.rowCount() == 1)
        assert window.workspace.experiment(window.current_id or 0).name == DEMO_NAME
        # a second visit does not store the demo twice
        window.guided_setup(welcome=True).demo_button.click()
        assert [e.name for e in window.workspace.experiments()] == [DEMO_NAME]


def test_guided_setup_creates_and_selects_the_users_experiment(
        qtbot: QtBot, tmp_path: Path, project: Path) -> None:
    with open_window(qtbot, tmp_path, first_run=True) as window:
        qtbot.waitUntil(lambda: len(wizards(window)) == 1)
        wizard = wizards(window)[0]
        click(wizard, QWizard.WizardButton.NextButton)
        assert wizard.currentId() == PageId.SCRIPT
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        assert wizard.problem() == "pick your training script"

        wizard.script.setText(str(project / "train.py"))
        assert wizard.code_dir.text() == str(project)
        assert wizard.command.text() == "{python} train.py"
        assert wizard.name.text() == "mnist-cnn"
        click(wizard, QWizard.WizardButton.NextButton)

        assert wizard.currentId() == PageId.KPI
        wizard.kpi_name.setText("")
        assert wizard.problem().startswith("name the KPI your script reports")
        wizard.kpi_name.setText("val_acc")
        wizard.goal.setCurrentIndex(wizard.goal.findData(Goal.MAX))
        click(wizard, QWizard.WizardButton.NextButton)

        assert wizard.currentId() == PageId.REPORT
        assert 'sweeplab.report("val_acc", val_acc, step=epoch)' in wizard.sdk_text.toPlainText()
        wizard.sdk_copy.click()
        assert QGuiApplication.clipboard().text() == wizard.sdk_text.toPlainText()
        wizard.line_copy.click()
        assert QGuiApplication.clipboard().text() == \
            '#sweeplab {"metric": "val_acc", "value": 0.42, "step": 3}'
        assert wizard.already.text() == ""
        click(wizard, QWizard.WizardButton.FinishButton)

        qtbot.waitUntil(lambda: window.experiments.rowCount() == 1)
        config = window.workspace.config(window.current_id or 0)
        assert (config.name, config.kpi.name, config.kpi.goal) == ("mnist-cnn", "val_acc",
                                                                   Goal.MAX)
        assert config.code_dir == project and config.command == "{python} train.py"
        lr, batch = config.space.children
        assert isinstance(lr, NumberParam) and lr.name == "lr" and lr.auto
        assert isinstance(batch, Choice) and batch.values == [16, 32, 64, 128]
        assert window.tabs.currentWidget() is window.panels.space
        assert [n.name for n in window.panels.space.space().children] == ["lr", "batch_size"]
        assert window.actions_by_name["start"].isEnabled()


def test_help_guided_setup_starts_on_the_script_and_checks_the_answers(
        qtbot: QtBot, window: MainWindow, project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window.actions_by_name["guided_setup"].trigger()
    wizard = wizards(window)[0]
    assert wizard.currentId() == PageId.SCRIPT and wizard.choice() is Start.OWN

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *args: (str(project / "train.py"), ""))
    wizard.browse_script()
    assert wizard.code_dir.text() == str(project)
    wizard.code_dir.setText(str(elsewhere))
    assert "is not inside the code directory" in wizard.problem()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.code_dir.setText(str(project))
    wizard.script.setText(str(project / "missing.py"))
    assert wizard.problem() == f"{project / 'missing.py'} is not a file"
    wizard.script.setText(str(project / "train.py"))
    wizard.command.end(False)
    qtbot.keyClicks(wizard.command, " --fast")  # typed by the user: kept from now on
    wizard.name.selectAll()
    qtbot.keyClicks(wizard.name, "mine")
    wizard.script.setText(str(project / "train.py") + " ")
    assert wizard.command.text() == "{python} train.py --fast", "an edited command stays"
    assert wizard.name.text() == "mine", "an edited name stays"
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.NextButton)

    # the name was taken meanwhile: Finish says so and the wizard stays open
    window.workspace.create(replace(load_experiment(DEMO_EXPERIMENT), name="mine"))
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.isVisible() and wizard.currentId() == PageId.REPORT
    assert "an experiment named 'mine' already exists" in wizard.problem()
    click(wizard, QWizard.WizardButton.BackButton)
    click(wizard, QWizard.WizardButton.BackButton)
    wizard.name.setText("mine-2")
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.FinishButton)
    qtbot.waitUntil(lambda: window.workspace.experiment(window.current_id or 0).name == "mine-2")
    assert window.workspace.config(window.current_id or 0).command == "{python} train.py --fast"


def test_the_name_in_use_is_refused_on_the_script_page(
        qtbot: QtBot, window: MainWindow, project: Path) -> None:
    window.workspace.create(load_experiment(DEMO_EXPERIMENT))
    wizard = window.guided_setup()
    wizard.script.setText(str(project / "train.py"))
    wizard.name.setText(DEMO_NAME)
    assert wizard.problem() == f"an experiment named {DEMO_NAME!r} already exists"


def test_a_script_that_reports_already_is_recognised(
        qtbot: QtBot, window: MainWindow, project: Path) -> None:
    (project / "train.py").write_text('import sweeplab\nsweeplab.report("loss", 1.0)\n')
    wizard = window.guided_setup()
    wizard.script.setText(str(project / "train.py"))
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.already.text().startswith("✓")


def test_commands_names_and_report_detection(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "sub dir").mkdir(parents=True)
    assert command_for(code / "train.py", code) == "{python} train.py"
    assert command_for(code / "sub dir" / "run.sh", code) == "bash 'sub dir/run.sh'"
    assert command_for(code / "train", code) == "./train"
    with pytest.raises(ValueError, match="is not inside the code directory"):
        command_for(tmp_path / "other.py", code)
    assert unique_name("exp", ["exp", "exp-2"]) == "exp-3"
    assert unique_name("  ", []) == "my-experiment"
    assert reports_already("print('#sweeplab {}')") and reports_already("#Auptimizer:1")
    assert not reports_already("import sweeplab\nprint(sweeplab.param('x'))")


def test_the_wizard_proposes_the_scripts_params_and_the_goal_its_kpi_name_says(
        qtbot: QtBot, window: MainWindow, project: Path) -> None:
    """Issue 17.14."""
    (project / "train.py").write_text(
        "import sweeplab\n"
        "lr = sweeplab.param('lr', 0.01)\n"
        "layers = sweeplab.param('layers', 3)\n"
        "opt = sweeplab.param('optimizer', 'adam')\n"
        "beta1 = sweeplab.param('optimizer.beta1', 0.9)\n")
    wizard = window.guided_setup()
    wizard.script.setText(str(project / "train.py"))
    click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.goal.currentData() == Goal.MIN  # "loss"
    wizard.kpi_name.setText("val_acc")
    assert wizard.goal.currentData() == Goal.MAX
    wizard.kpi_name.setText("val_error")
    assert wizard.goal.currentData() == Goal.MIN
    wizard.kpi_name.setText("f1_score")
    click(wizard, QWizard.WizardButton.NextButton)
    assert "your script reads (lr, layers, optimizer)" in wizard.summary.text()
    click(wizard, QWizard.WizardButton.FinishButton)
    qtbot.waitUntil(lambda: window.experiments.rowCount() == 1)
    config = window.workspace.config(window.current_id or 0)
    assert config.kpi.goal is Goal.MAX
    lr, layers, optimizer = config.space.children
    assert isinstance(lr, NumberParam) and lr.default == 0.01 and lr.auto
    assert isinstance(layers, NumberParam) and layers.integer and layers.default == 3
    assert isinstance(optimizer, Choice) and optimizer.default == "adam"
    assert [n.name for n in optimizer.branches[0].children] == ["beta1"]


def test_a_goal_picked_by_the_user_stays(qtbot: QtBot, window: MainWindow,
                                         project: Path) -> None:
    wizard = window.guided_setup()
    wizard.script.setText(str(project / "train.py"))
    click(wizard, QWizard.WizardButton.NextButton)
    wizard.goal.setCurrentIndex(wizard.goal.findData(Goal.MAX))
    wizard.goal.activated.emit(wizard.goal.currentIndex())  # as a pick does
    wizard.kpi_name.setText("val_loss")
    assert wizard.goal.currentData() == Goal.MAX
