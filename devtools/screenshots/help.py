"""Pictures of the Help windows and the guided setup (for docs/screenshots/).

No database and no network: About is given a made-up URL, and the wizard is filled
with a script written to a throwaway folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication, QWidget, QWizard

from app.engine.experiment import ExperimentConfig
from app.views.first_run import FirstRunWizard, PageId
from app.views.help_dialogs import AboutDialog, ReportingHelpDialog

DATABASE_URL = "sqlite:////home/alice/.local/share/sweeplab/sweeplab.db"
SCRIPT = """import sweeplab

lr = sweeplab.param("lr", default=1e-3)
"""


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render About, Help → Reporting metrics, and the guided setup's welcome, script
    and reporting pages.

    Needs a QApplication (offscreen or Xvfb). Returns the PNGs written:
    ``help-about.png``, ``help-reporting-metrics.png``, ``first-run-welcome.png``,
    ``first-run-script.png``, ``first-run-report.png``.

    Raises:
        RuntimeError: no QApplication exists.
    """
    if QApplication.instance() is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    about = AboutDialog(DATABASE_URL)
    written.append(_save(about, out_dir / "help-about.png"))
    about.close()
    reporting = ReportingHelpDialog("val_acc")
    written.append(_save(reporting, out_dir / "help-reporting-metrics.png"))
    reporting.close()
    with tempfile.TemporaryDirectory(prefix="sweeplab-wizard-") as tmp:
        code = Path(tmp) / "mnist-cnn"
        code.mkdir()
        (code / "train.py").write_text(SCRIPT)
        written.extend(_wizard_pictures(code / "train.py", out_dir))
    return written


def _wizard_pictures(script: Path, out_dir: Path) -> list[Path]:
    def keep(_config: ExperimentConfig) -> None:
        """Nothing is stored: the pictures stop before Finish."""

    wizard = FirstRunWizard(keep, welcome=True)
    wizard.show()
    written = [_save(wizard, out_dir / "first-run-welcome.png")]
    wizard.next()
    wizard.script.setText(str(script))
    written.append(_save(wizard, out_dir / "first-run-script.png"))
    wizard.next()
    wizard.kpi_name.setText("val_acc")
    wizard.goal.setCurrentIndex(1)
    wizard.next()
    if wizard.currentId() != PageId.REPORT:
        raise RuntimeError(f"the guided setup stopped on page {wizard.currentId()}: "
                           f"{wizard.problem()}")
    written.append(_save(wizard, out_dir / "first-run-report.png"))
    wizard.button(QWizard.WizardButton.CancelButton).click()
    return written


def _save(widget: QWidget, path: Path) -> Path:
    widget.show()
    app = QApplication.instance()
    if app is not None:
        for _ in range(3):
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    widget.grab().save(str(path))
    return path
