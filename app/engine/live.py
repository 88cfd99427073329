"""What the runner knows about one running trial, and how it ends.

Pure bookkeeping, no I/O: the KPI so far, progress, the log tail kept for an
error message, why the runner asked it to stop, and the final state that follows.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from app.engine.experiment import Kpi, KpiUse
from app.engine.ports import Executor
from app.engine.protocol import (
    CheckpointReport,
    LineParser,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
)
from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import TrialState

TAIL_LINES = 50
MAX_WARNINGS = 5


class StopReason(str, Enum):
    """Why the runner stopped a trial; decides the state it ends in."""

    USER = "stopped by the user"
    MAX_EPOCHS = "reached max epochs"
    MAX_TIME = "reached the max time per trial"
    BUDGET = "cut by the experiment's time budget"
    PRUNED = "pruned by the early-stopping scheduler"
    FAILING_START = "the run stopped: its first trials all failed the same way"
    EXPLOIT = "ends its segment to continue from a better trial's checkpoint (pbt)"


@dataclass
class Reading:
    """What a batch of log lines said: points to store, KPI values, warnings to log."""

    points: list[MetricPoint] = field(default_factory=list)
    kpi: list[tuple[int, float]] = field(default_factory=list)  # (step or ordinal, value)
    warnings: list[str] = field(default_factory=list)
    progress: ProgressReport | None = None  # the last progress report, if any
    checkpoints: list[int] = field(default_factory=list)  # steps of published checkpoints


@dataclass
class LiveTrial:
    """A trial between submit and its end."""

    record: TrialRecord
    executor: Executor
    kpi: Kpi
    started: float | None = None
    last: float | None = None
    best: float | None = None
    step: int | None = None
    total: int | None = None
    lines: int = 0
    kpi_reports: int = 0
    warnings: int = 0
    stop_reason: StopReason | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    @property
    def number(self) -> int:
        """The trial's number within its experiment (the searcher's id)."""
        return self.record.number

    def add_kpi(self, value: float) -> None:
        """Record one reported KPI value (non-finite values are kept as last only)."""
        self.last = value
        self.kpi_reports += 1
        if math.isfinite(value) and (
            self.best is None or self.kpi.goal.better(value, self.best)
        ):
            self.best = value

    def read(self, lines: tuple[str, ...], parser: LineParser, stamp: float) -> Reading:
        """Parse complete log lines, updating the KPI, step, progress and log tail.

        A KPI report without a step is placed at its ordinal (1st, 2nd, ... report).
        """
        reading = Reading()
        for line in lines:
            self.lines += 1
            self.tail.append(line)
            for report in parser.parse(line):
                if isinstance(report, MetricReport):
                    reading.points.append(MetricPoint(self.record.id, report.name,
                                                      report.value, report.step, stamp))
                    if report.step is not None:
                        self.step = max(self.step or 0, report.step)
                    if report.name == self.kpi.name:
                        self.add_kpi(report.value)
                        step = report.step if report.step is not None else self.kpi_reports
                        reading.kpi.append((step, report.value))
                elif isinstance(report, ProgressReport):
                    self.step, self.total = report.step, report.total
                    reading.progress = report
                elif isinstance(report, CheckpointReport):
                    reading.checkpoints.append(report.step)
                elif isinstance(report, ProtocolWarning) and self.warnings < MAX_WARNINGS:
                    self.warnings += 1
                    reading.warnings.append(f"trial {self.number}, line {self.lines}: "
                                            f"{report.message}")
        return reading

    def kpi_value(self) -> float | None:
        """The trial's result by the experiment's rule (last or best)."""
        return self.best if self.kpi.use is KpiUse.BEST else self.last

    def final(self, exit_code: int | None, error: str | None, *,
              lost: bool = False) -> tuple[TrialState, str | None]:
        """The state and message a trial ends with: :meth:`outcome`, unless it could not
        start (``error``: FAILED), its host was lost (LOST, to be queued again), or it
        ended before it was seen to start (STOPPED while queued, also when the host
        reports it could not start because of that stop)."""
        state, message = self.outcome(exit_code)
        queued = self.record.state is TrialState.QUEUED
        if error is not None and not (queued and self.stop_reason is not None):
            state, message = TrialState.FAILED, error
        if lost:
            state, message = TrialState.LOST, f"{error or 'its host was lost'}; queued again"
        if queued and state not in (TrialState.FAILED, TrialState.LOST):
            state = TrialState.STOPPED
        return state, message

    def outcome(self, exit_code: int | None) -> tuple[TrialState, str | None]:
        """The final state and error message once the process has ended."""
        kpi = self.kpi_value()
        never = f"the trial never reported the KPI '{self.kpi.name}'"
        if self.stop_reason in (StopReason.USER, StopReason.BUDGET, StopReason.FAILING_START):
            # not the trial's own end: its KPI so far is kept but does not compete
            return TrialState.STOPPED, self.stop_reason.value
        if self.stop_reason is StopReason.PRUNED:
            return TrialState.PRUNED, None
        if self.stop_reason is not None:
            if kpi is None:
                return TrialState.FAILED, f"{self.stop_reason.value}, but {never}"
            return TrialState.COMPLETED, None
        if exit_code == 0:
            return (TrialState.COMPLETED, None) if kpi is not None else (TrialState.FAILED, never)
        return TrialState.FAILED, failure_message(exit_code, list(self.tail),
                                                  self.record.trial_dir)


_NOT_FOUND = re.compile(r"([^:]+):\s*(?:command )?not found\s*$")
_CANNOT_OPEN = re.compile(r"can't open file ")
_FRAME = re.compile(r'\s+File "[^"]*", line \d+')
_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception)\b")


def failure_cause(exit_code: int | None, tail: Sequence[str],
                  trial_dir: str | None = None) -> str | None:
    """What a failed trial's log says went wrong, as one line, or None when it does not
    say: ``<cmd>: command not found`` (exit 127, from the shell's complaint), the last
    line of a Python traceback (``ModuleNotFoundError: No module named 'x'``) or of the
    script's own ``SyntaxError`` (printed without a traceback header), Python's
    ``can't open file '...'`` (a wrong path). Paths inside ``trial_dir`` are shortened
    to be relative to it, so the same mistake reads the same in every trial."""
    cause = _cause(exit_code, [line.rstrip() for line in tail if line.strip()])
    if cause is not None and trial_dir:
        cause = cause.replace(trial_dir.rstrip("/") + "/", "")
    return cause


def _cause(exit_code: int | None, lines: list[str]) -> str | None:
    if exit_code == 127:
        for line in reversed(lines):
            if match := _NOT_FOUND.search(line):
                return f"{match.group(1).strip()}: command not found"
    traceback = max((i for i, line in enumerate(lines)
                     if line.startswith("Traceback (most recent call last)")), default=None)
    if traceback is not None:  # the exception is the first line not indented after it
        for line in lines[traceback + 1:]:
            if not line[:1].isspace():
                return line
    frame = max((i for i, line in enumerate(lines) if _FRAME.match(line)), default=None)
    if frame is not None:  # a script's own SyntaxError: its frame, no Traceback header
        exception = next((line for line in lines[frame + 1:] if not line[:1].isspace()), "")
        if _EXCEPTION.match(exception):
            return exception
    for line in reversed(lines):
        if _CANNOT_OPEN.search(line):
            return line.strip()
    return None


def failure_message(exit_code: int | None, tail: Sequence[str],
                    trial_dir: str | None = None) -> str:
    """A failed trial's message: its first line names the cause where the log says it
    (:func:`failure_cause`), else how the process ended; then how it ended and the last
    lines of its log. That first line is what tables, the CSV and tooltips show, and
    what tells two failures apart (:class:`app.engine.failing.FailingStart`)."""
    what = "was killed" if exit_code is None else f"exited with code {exit_code}"
    text = f"the trial {what}"
    if tail:
        text += "; last lines:\n" + "\n".join(tail)
    cause = failure_cause(exit_code, tail, trial_dir)
    return text if cause is None else f"{cause}\n{text}"


def searcher_value(state: TrialState, kpi: float | None) -> float | None:
    """What a searcher is told for a finished trial: its KPI only when it counts.

    Completed and pruned trials count; stopped, failed and lost ones do not (a
    user's stop cuts a trial short for reasons that say nothing of its params).
    Used both live and when a searcher is rebuilt, so both see the same history.
    """
    if state in (TrialState.COMPLETED, TrialState.PRUNED) and kpi is not None:
        return kpi if math.isfinite(kpi) else None
    return None
