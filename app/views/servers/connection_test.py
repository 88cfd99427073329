"""The connection test of one server, in plain words: :class:`ConnectionTest`.

:meth:`~app.application.servers.Servers.probe` runs on a plain worker thread; its report
comes back through a queued signal. Each check shows as ✓ or ✗ with what was found.
An unknown host key shows its SHA256 fingerprint and an "Accept this key" button
that runs the test again accepting exactly that fingerprint; a changed host key is
a warning of a possible attack, with nothing to accept.
"""

from __future__ import annotations

import functools
import html
import logging

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.application.servers import Probe, ProbeReport, Secrets, ServerProfile
from app.views.bridge import GuiInbox, Mailbox, start_worker
from app.views.servers.wrapped_label import WrappedLabel

log = logging.getLogger(__name__)

POLL_MS = 50
"""How often the GUI thread takes a finished test's report."""
OK_MARK = "✓"
FAIL_MARK = "✗"
OK_STYLE = "color: #2e7d32;"
FAIL_STYLE = "color: #c62828;"
WARNING_STYLE = ("color: #b71c1c; background: #ffebee; border: 1px solid #e57373; "
                 "padding: 6px;")


def report_lines(report: ProbeReport) -> list[str]:
    """The report as the panel shows it: ``✓ reachable: ...`` one check a line."""
    return [f"{OK_MARK if step.ok else FAIL_MARK} {step.name}: {step.detail}"
            for step in report.steps]


def host_key_changed(report: ProbeReport) -> bool:
    """True when the host key check failed on a key other than an unknown one."""
    return report.unknown_host_key is None and any(
        step.name == "host key" and not step.ok for step in report.steps)


class ConnectionTest(QWidget):
    """Runs and shows one connection test at a time.

    Args:
        probe: runs one test (:meth:`Servers.probe`: an accepted key is added to the
            known hosts there).
        timeout: seconds for connecting and logging in.

    Signals:
        finished(object ProbeReport): a test ended with this report (also after an
            accepted key); not emitted when the test itself crashed.
        keyAccepted(str server): the user accepted a host key for this server.
    """

    finished = Signal(object)
    keyAccepted = Signal(str)

    def __init__(self, probe: Probe, parent: QWidget | None = None, *,
                 timeout: float = 10.0) -> None:
        super().__init__(parent)
        self._probe = probe
        self._timeout = timeout
        self._run_id = 0
        self._running = False
        self._profile: ServerProfile | None = None
        self._secrets = Secrets()
        self.report: ProbeReport | None = None
        # the worker's outcome reaches the GUI thread through the views' one way across
        # threads: (run id, report or None, failure message)
        self._inbox: GuiInbox[tuple[int, ProbeReport | None, str]] = GuiInbox(
            self._deliver, POLL_MS, self)
        self._inbox.start()

        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.steps = WrappedLabel()
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = WrappedLabel()
        self.fingerprint = WrappedLabel()
        self.fingerprint.setTextFormat(Qt.TextFormat.RichText)
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint.setStyleSheet("background: #fff8e1; border: 1px solid #ffcc80; "
                                       "padding: 6px;")
        self.fingerprint.hide()
        self.accept_button = QPushButton("Accept this key")
        self.accept_button.setToolTip("Trust this host key from now on (it is added to "
                                      "Sweeplab's known_hosts) and test again")
        self.accept_button.clicked.connect(self.accept_key)
        self.accept_button.hide()
        self.warning = WrappedLabel()
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.hide()

        key_row = QHBoxLayout()
        key_row.addWidget(self.fingerprint, 1)
        key_row.addWidget(self.accept_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.busy)
        layout.addWidget(self.steps)
        layout.addLayout(key_row)
        layout.addWidget(self.warning)
        layout.addWidget(self.verdict)

    @property
    def running(self) -> bool:
        """True while a test runs."""
        return self._running

    def start(self, profile: ServerProfile, secrets: Secrets,
              accept_fingerprint: str | None = None) -> bool:
        """Test ``profile`` on a worker thread; False (nothing started) while one runs."""
        if self._running:
            return False
        self._running = True
        self._run_id += 1
        self._profile, self._secrets = profile, secrets
        self.report = None
        where = f"{profile.user}@{profile.host}:{profile.port}"
        self.title.setText(f"Connection test of {profile.name} ({where})")
        self.steps.setText(html.escape(
            "Accepting the host key and testing again…" if accept_fingerprint
            else "Testing: connecting, logging in, checking the work directory, python "
                 "and GPUs…"))
        for widget in (self.fingerprint, self.accept_button, self.warning):
            widget.hide()
        self.steps.setStyleSheet("")
        self.verdict.clear()
        self.busy.show()
        start_worker(functools.partial(_test, self._probe, self._run_id, profile, secrets,
                                       accept_fingerprint, self._timeout, self._inbox.mailbox),
                     name=f"sweeplab-probe-{profile.name}")
        return True

    def _deliver(self, outcomes: list[tuple[int, ProbeReport | None, str]]) -> None:
        for run_id, report, failure in outcomes:
            if report is None:
                self._failed(run_id, failure)
            else:
                self._done(run_id, report)

    @Slot()
    def accept_key(self) -> None:
        """Accept the shown unknown host key (its exact fingerprint) and test again."""
        report, profile = self.report, self._profile
        if report is None or report.unknown_host_key is None or profile is None:
            return
        self.keyAccepted.emit(profile.name)
        self.start(profile, self._secrets, report.unknown_host_key.fingerprint)

    def show_report(self, report: ProbeReport) -> None:
        """Show a finished test's report (what a test run shows when it ends)."""
        self.report = report
        self.busy.hide()
        rows = []
        for step in report.steps:
            mark, style = (OK_MARK, OK_STYLE) if step.ok else (FAIL_MARK, FAIL_STYLE)
            rows.append(f'<span style="{style}"><b>{mark}</b></span> <b>'
                        f"{html.escape(step.name)}</b>: {html.escape(step.detail)}")
        self.steps.setText("<br>".join(rows))
        unknown = report.unknown_host_key
        if unknown is not None:
            self.fingerprint.setText(
                f"New host key: <b>{html.escape(unknown.fingerprint)}</b> "
                f"({html.escape(unknown.key.get_name())})<br>Accept it only if it matches "
                "what the server's administrator reads there.")
            self.fingerprint.show()
            self.accept_button.show()
        if host_key_changed(report):
            self.warning.setText(
                "Possible attack: this server's host key has CHANGED since it was last "
                "seen. Someone may be intercepting the connection, or the server was "
                "reinstalled. Sweeplab will not connect to it; ask the administrator, and "
                "only if they confirm the new key remove the old one from known_hosts.")
            self.warning.show()
        if report.ok:
            self.verdict.setText("Trials can run on this server.")
            self.verdict.setStyleSheet(OK_STYLE)
        else:
            self.verdict.setText("Trials cannot run there until the problems marked ✗ are "
                                 "fixed.")
            self.verdict.setStyleSheet(FAIL_STYLE)

    def lines(self) -> list[str]:
        """The shown checks as plain text (``✓ name: detail``), empty while testing."""
        return report_lines(self.report) if self.report is not None else []

    @Slot(int, object)
    def _done(self, run_id: int, report: ProbeReport) -> None:
        if run_id != self._run_id:
            return
        self._running = False
        self.show_report(report)
        self.finished.emit(report)

    @Slot(int, str)
    def _failed(self, run_id: int, message: str) -> None:
        if run_id != self._run_id:
            return
        self._running = False
        self.busy.hide()
        self.steps.setText(html.escape(f"{FAIL_MARK} the test could not run: {message}"))
        self.steps.setStyleSheet(FAIL_STYLE)
        self.verdict.clear()


def _test(probe: Probe, run_id: int, profile: ServerProfile, secrets: Secrets,
          accept_fingerprint: str | None, timeout: float,
          mailbox: Mailbox[tuple[int, ProbeReport | None, str]]) -> None:
    """The worker thread: one connection test, its outcome posted."""
    try:
        report = probe(profile, secrets, accept_fingerprint=accept_fingerprint,
                       timeout=timeout)
    except Exception as exc:  # the test itself broke (e.g. known_hosts unwritable)
        log.exception("connection test of %s failed", profile.name)
        mailbox.post((run_id, None, f"{type(exc).__name__}: {exc}"))
        return
    mailbox.post((run_id, report, ""))
