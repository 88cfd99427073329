"""``sweeplab ls | show | export | stop``: experiments in the database."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from app.commands.console import best_trials, console, duration, format_kpi, trials_table
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.trial import ExperimentState
from app.wiring import config_of, open_store


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    """Register the experiment commands."""
    ls = sub.add_parser("ls", parents=[common], help="list experiments")
    ls.set_defaults(handler=_ls)
    show = sub.add_parser("show", parents=[common], help="an experiment's trials")
    show.add_argument("experiment", help="name or id")
    show.set_defaults(handler=_show)
    export = sub.add_parser("export", parents=[common], help="trials as CSV or JSON")
    export.add_argument("experiment", help="name or id")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    export.set_defaults(handler=_export)
    stop = sub.add_parser("stop", parents=[common], help="ask a running experiment to stop")
    stop.add_argument("experiment", help="name or id")
    stop.set_defaults(handler=_stop)


def _ls(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        table = Table(title=f"experiments in {store.url}", title_justify="left")
        for column in ("id", "name", "state", "trials", "best KPI", "created"):
            table.add_column(column)
        for exp in store.list_experiments():
            trials = store.list_trials(exp.id)
            config = config_of(exp)
            best = best_trials(trials, config, 1)
            kpi = f"{config.kpi.name} {format_kpi(best[0].kpi)}" if best else "—"
            table.add_row(str(exp.id), exp.name, exp.state.value, str(len(trials)), kpi,
                          exp.created_at.strftime("%Y-%m-%d %H:%M"))
        console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        exp = store.get_experiment(args.experiment)
        config = config_of(exp)
        trials = store.list_trials(exp.id)
        console.print(trials_table(trials, config.kpi.name,
                                   f"{exp.name} ({exp.state.value}), {len(trials)} trials"))
    return 0


def export_rows(trials: list[TrialRecord]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows: one row per trial, every param as a dotted column."""
    param_columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for trial in trials:
        flat = flatten(trial.params)
        for key in flat:
            if key not in param_columns:
                param_columns.append(key)
        seconds = duration(trial)
        rows.append({
            "id": trial.number, "state": trial.state.value, "host": trial.host or "",
            "gpus": ",".join(map(str, trial.gpus)),
            "started": trial.started_at.isoformat() if trial.started_at else "",
            "ended": trial.ended_at.isoformat() if trial.ended_at else "",
            "duration_s": "" if seconds is None else round(seconds, 3),
            "kpi": "" if trial.kpi is None else trial.kpi,
            "commit": trial.commit or "", "error": (trial.error or "").splitlines()[0:1],
            **flat,
        })
        rows[-1]["error"] = rows[-1]["error"][0] if rows[-1]["error"] else ""
    fixed = ["id", "state", "host", "gpus", "started", "ended", "duration_s", "kpi", "commit",
             "error"]
    return fixed + param_columns, rows


def _export(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        exp = store.get_experiment(args.experiment)
        columns, rows = export_rows(store.list_trials(exp.id))
    if args.format == "json":
        text = json.dumps(rows, indent=2, default=str) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if args.output:
        # utf-8-sig: spreadsheets then read non-ASCII text correctly
        args.output.write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _stop(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        exp = store.get_experiment(args.experiment)
        if exp.state not in (ExperimentState.RUNNING, ExperimentState.PAUSED):
            console.print(f"{exp.name} is {exp.state.value}; nothing to stop")
            return 0
        store.update_experiment(exp.id, state=ExperimentState.STOPPED)
        store.add_event(exp.id, "command", "stop requested from the command line")
    console.print(f"stop requested: the sweeplab running {exp.name} stops its trials")
    return 0
