"""Terminal output shared by the commands: progress while running, trial tables."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.experiment import ExperimentConfig
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.exporting import duration

console = Console(highlight=False)


def format_kpi(value: float | None) -> str:
    """A KPI for a table cell."""
    if value is None:
        return "—"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def best_trials(trials: Sequence[TrialRecord], config: ExperimentConfig,
                count: int) -> list[TrialRecord]:
    """The ``count`` best completed trials with a finite KPI, best first."""
    scored = [t for t in trials if t.state in (TrialState.COMPLETED, TrialState.PRUNED)
              and t.kpi is not None and math.isfinite(t.kpi)]
    scored.sort(key=lambda t: config.kpi.goal.sign * (t.kpi or 0.0))
    return scored[:count]


def trials_table(trials: Sequence[TrialRecord], kpi_name: str, title: str) -> Table:
    """A table of trials with their state, KPI, host and params (all shown literally:
    a name or value with ``[...]`` is no Rich markup)."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("#", "state", kpi_name, "host", "seconds", "params"):
        table.add_column(escape(column), overflow="fold")
    for trial in trials:
        seconds = duration(trial)
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in flatten(trial.params).items())
        table.add_row(str(trial.number), trial.state.value, format_kpi(trial.kpi),
                      escape(trial.host or ""), "" if seconds is None else f"{seconds:.1f}",
                      escape(params))
    return table


class RunDisplay:
    """A live progress bar fed by runner events (called on the runner thread)."""

    def __init__(self, config: ExperimentConfig, done: int) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._done = done
        self._running = 0
        self._best: float | None = None
        self.progress = Progress(  # names and KPIs are the user's: never read as markup
            TextColumn("{task.description}", style="bold", markup=False), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[status]}", markup=False),
            TimeElapsedColumn(), console=console,
        )
        self._task = self.progress.add_task(config.name, total=config.limits.max_trials,
                                            completed=done, status="")

    def __call__(self, event: RunnerEvent) -> None:
        with self._lock:
            if event.kind is RunnerEventKind.TRIAL and event.trial is not None:
                self._on_trial(event.trial)
            elif event.kind is RunnerEventKind.EXPERIMENT:
                self.progress.console.print(Text(event.message, style="bold"))
            status = f"running {self._running}, best {self._config.kpi.name} " \
                     f"{format_kpi(self._best)}"
            self.progress.update(self._task, completed=self._done, status=status)

    def _on_trial(self, trial: TrialRecord) -> None:
        if trial.state is TrialState.RUNNING:
            self._running += 1
        elif trial.state.is_finished():
            self._running = max(0, self._running - 1) if trial.started_at else self._running
            self._done += 1
            kpi = trial.kpi
            goal = self._config.kpi.goal
            if (trial.state in (TrialState.COMPLETED, TrialState.PRUNED) and kpi is not None
                    and math.isfinite(kpi)
                    and (self._best is None or goal.better(kpi, self._best))):
                self._best = kpi
            colour = {TrialState.COMPLETED: "green", TrialState.PRUNED: "yellow"}.get(
                trial.state, "red")
            line = Text.assemble(f"trial {trial.number}: ", (trial.state.value, colour),
                                 f" {self._config.kpi.name}={format_kpi(kpi)}")
            if trial.error and trial.state is TrialState.FAILED:
                line.append(f" — {trial.error.splitlines()[0]}")
            self.progress.console.print(line)
