"""Terminal output shared by the commands: progress while running, trial tables."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from app.application.exporting import duration
from app.engine.best import TrialCounts, best_trial, count_trials, is_better, ranked
from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.experiment import ExperimentConfig
from app.engine.failing import first_line
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.trial import TrialState

if TYPE_CHECKING:
    from rich.progress import Progress


class _Console(Console):
    """Rich's console, except that a reader gone away (``sweeplab show | head``) is a
    :class:`BrokenPipeError`, which the command line ends quietly as for a plain
    print (Rich's own handling exits 1, the status of an internal error)."""

    def on_broken_pipe(self) -> None:
        """Raise it for :func:`app.cli.main`, which silences stdout and exits 141."""
        raise BrokenPipeError("the reader of the output went away")


console = _Console(highlight=False)


def format_kpi(value: float | None) -> str:
    """A KPI for a table cell."""
    if value is None:
        return "—"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def best_trials(trials: Sequence[TrialRecord], config: ExperimentConfig,
                count: int) -> list[TrialRecord]:
    """The ``count`` best trials by the one rule (:mod:`app.engine.best`), best first."""
    return ranked(trials, config.kpi.goal)[:count]


def best_line(trials: Sequence[TrialRecord], config: ExperimentConfig) -> str:
    """``best loss 0.25 (trial 3)``, or why there is none, by the one rule."""
    best = best_trial(trials, config.kpi.goal)
    if best is None:
        return f"best {config.kpi.name} — (no trial completed with a finite {config.kpi.name})"
    return f"best {config.kpi.name} {format_kpi(best.kpi)} (trial {best.number})"


def trial_counts(trials: Sequence[TrialRecord]) -> str:
    """``6 trials: 2 completed, 3 failed, 1 stopped (1 cut by the time budget)``."""
    return counts_line(count_trials(trials))


def counts_line(counts: TrialCounts) -> str:
    """:func:`trial_counts` of trials already added up (a store's tally)."""
    parts = []
    for state in TrialState:
        if counts[state]:
            parts.append(f"{counts[state]} {state.value}")
            if state is TrialState.STOPPED and counts.budget_cut:
                parts[-1] += f" ({counts.budget_cut} cut by the time budget)"
    total = f"{counts.total} trial{'' if counts.total == 1 else 's'}"
    return f"{total}: {', '.join(parts)}" if parts else total


def note(trial: TrialRecord) -> str:
    """The first line of a trial's message: a failure's cause, why it was stopped
    (``cut by the experiment's time budget``), a batch queue's reason."""
    return first_line(trial.error)


def trials_table(trials: Sequence[TrialRecord], kpi_name: str, title: str) -> Table:
    """A table of trials with their state, KPI, host and params (all shown literally:
    a name or value with ``[...]`` is no Rich markup)."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("#", "state", kpi_name, "host", "seconds", "params", "note"):
        table.add_column(escape(column), overflow="fold")
    for trial in trials:
        seconds = duration(trial)
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in flatten(trial.params).items())
        table.add_row(str(trial.number), trial.state.value, format_kpi(trial.kpi),
                      escape(trial.host or ""), "" if seconds is None else f"{seconds:.1f}",
                      escape(params), escape(note(trial)))
    return table


class RunDisplay:
    """A live progress bar fed by runner events (called on the runner thread)."""

    def __init__(self, config: ExperimentConfig, trials: Sequence[TrialRecord]) -> None:
        # the bar's module (~20 ms) only for a run, not for ls or show
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._config = config
        self._lock = threading.Lock()
        # the bar counts what max trials counts: not re-runs (retries, requeued trials)
        self._done = count_trials(t for t in trials if t.rerun_of is None).done
        self._running = 0
        self._best = best_trial(trials, config.kpi.goal)
        self.progress: Progress = Bar(  # names and KPIs are the user's: never read as markup
            TextColumn("{task.description}", style="bold", markup=False), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[status]}", markup=False),
            TimeElapsedColumn(), console=console,
        )
        self._task = self.progress.add_task(config.name, total=config.limits.max_trials,
                                            completed=self._done, status=self._status())

    def __call__(self, event: RunnerEvent) -> None:
        with self._lock:
            if event.kind is RunnerEventKind.TRIAL and event.trial is not None:
                self._on_trial(event.trial)
            elif event.kind is RunnerEventKind.EXPERIMENT:
                self.progress.console.print(Text(event.message or "", style="bold"))
            self.progress.update(self._task, completed=self._done, status=self._status())

    def _status(self) -> str:
        best = None if self._best is None else self._best.kpi
        return f"running {self._running}, best {self._config.kpi.name} {format_kpi(best)}"

    def _on_trial(self, trial: TrialRecord) -> None:
        if trial.state is TrialState.RUNNING:
            self._running += 1
        elif trial.state.is_finished():
            self._running = max(0, self._running - 1) if trial.started_at else self._running
            self._done += trial.rerun_of is None
            kpi = trial.kpi
            if is_better(trial, self._best, self._config.kpi.goal):
                self._best = trial
            colour = {TrialState.COMPLETED: "green", TrialState.PRUNED: "yellow"}.get(
                trial.state, "red")
            line = Text.assemble(f"trial {trial.number}: ", (trial.state.value, colour),
                                 f" {self._config.kpi.name}={format_kpi(kpi)}")
            if trial.error and trial.state in (TrialState.FAILED, TrialState.STOPPED):
                line.append(f" — {note(trial)}")
            self.progress.console.print(line)
