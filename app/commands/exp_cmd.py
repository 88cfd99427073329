"""``sweeplab ls | show | export | stop``: experiments in the database."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from app.application.database import Listing, experiment_listing, open_store
from app.application.definitions import BrokenExperiment, checked_config, config_or_broken
from app.commands.console import (
    best_line,
    console,
    counts_line,
    format_kpi,
    trial_counts,
    trials_table,
)
from app.engine.best import TrialTally

STOP_ANSWER_SECONDS = 10.0
"""How long ``sweeplab stop`` waits for the running program to answer (it looks for a
stop about once a second, :data:`app.engine.runner.EXTERNAL_CHECK_SECONDS`)."""
STOP_POLL_SECONDS = 0.1
"""How often ``sweeplab stop`` reads whether it has been answered."""

if TYPE_CHECKING:
    from app.application.workspace import Workspace


def _ls(args: argparse.Namespace) -> int:
    """Every experiment; one whose definition no longer validates is listed as broken,
    with its reason under the table, instead of ending the listing.

    A SQLite file at the newest schema is read without SQLAlchemy
    (:func:`experiment_listing`); the table is the same whichever way it was read.
    """
    render_listing(experiment_listing(args.db))
    return 0


def render_listing(listing: Listing) -> None:
    """Print ``sweeplab ls``'s table of ``listing`` and the broken experiments under it.
    The trial counts and the best KPI are the store's tally of each experiment
    (:class:`~app.engine.best.TrialTally`: the one rule of :mod:`app.engine.best`)."""
    if not listing.experiments:
        console.print(f"no experiments in {listing.url} yet", markup=False, soft_wrap=True)
        return
    broken: list[BrokenExperiment] = []
    table = Table(title=f"experiments in {escape(listing.url)}", title_justify="left")
    for column in ("id", "name", "state", "trials", "best KPI", "created"):
        table.add_column(column)
    for exp in listing.experiments:
        tally = listing.tallies.get(exp.id, TrialTally())
        config = config_or_broken(exp)
        if isinstance(config, BrokenExperiment):
            broken.append(config)
            state, kpi = "[red]broken[/]", "—"
        else:
            best = tally.best_kpi(config.kpi.goal)
            state = exp.state.value
            kpi = "—" if best is None else f"{config.kpi.name} {format_kpi(best)}"
        table.add_row(str(exp.id), escape(exp.name), state, counts_line(tally.counts),
                      escape(kpi), exp.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)
    for problem in broken:
        console.print(f"broken: {problem.record.name!r} (id {problem.record.id}, "
                      f"{problem.record.state.value}): {problem.reason}", markup=False)


def _show(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        exp = store.get_experiment(args.experiment)
        config = checked_config(exp)
        trials = store.list_trials(exp.id)
        console.print(trials_table(trials, config.kpi.name,
                                   f"{exp.name} ({exp.state.value}), {len(trials)} trials"))
        console.print(f"{trial_counts(trials)}; {best_line(trials, config)}", markup=False)
    return 0


def _export(args: argparse.Namespace) -> int:
    """The trials as stored; a broken definition is said on stderr but does not stop the
    export, which is how a broken experiment's results are got out."""
    from app.application.exporting import experiment_export
    from app.application.workspace import Workspace  # runs' machinery: not for ls and show

    with open_store(args.db, create=False) as store:
        workspace = Workspace(store)
        exp = workspace.experiment(args.experiment)
        if args.schedule or args.lineage:
            return _export_pbt(args, workspace, exp.id)
        broken = config_or_broken(exp)
        if isinstance(broken, BrokenExperiment):
            print(f"warning: experiment {exp.name!r} (id {exp.id}) has an invalid stored "
                  f"definition ({broken.details}); its trials are exported as stored",
                  file=sys.stderr)
        if args.output:
            workspace.export(exp.id, args.output, args.format)
        else:
            sys.stdout.write(experiment_export(exp, workspace.trials(exp.id), args.format))
    return 0


def _export_pbt(args: argparse.Namespace, workspace: Workspace, experiment_id: int) -> int:
    """``--schedule`` or ``--lineage``: what population-based training found."""
    from app.application.lineage import PbtExport, pbt_export_text

    what = PbtExport.SCHEDULE if args.schedule else PbtExport.LINEAGE
    text = pbt_export_text(workspace, experiment_id, what, args.format)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _stop(args: argparse.Namespace) -> int:
    """Ask the program running the experiment, wherever it runs, to stop it; return once
    that program has answered (it looks about once a second), or has gone, or after
    :data:`STOP_ANSWER_SECONDS` without an answer (the request stays: it stops when it
    next looks)."""
    from app.application.following import ACTIVE  # the lease's processes, psutil: not for ls
    from app.engine.orders import StopAnswer, request_stop, stop_answer

    with open_store(args.db, create=False) as store:
        exp = store.get_experiment(args.experiment)
        if exp.state not in ACTIVE:
            console.print(f"{exp.name} is {exp.state.value}; nothing to stop", markup=False)
            return 0
        request = request_stop(store, exp.id, "the command line")
        deadline = time.monotonic() + STOP_ANSWER_SECONDS
        answer = stop_answer(store, request)
        while answer is StopAnswer.WAITING and time.monotonic() < deadline:
            time.sleep(STOP_POLL_SECONDS)  # the answer is a row another program writes
            answer = stop_answer(store, request)
    if answer is StopAnswer.SEEN:
        line = f"stopped: the sweeplab running {exp.name} is stopping its trials"
    elif answer is StopAnswer.UNDRIVEN:
        line = f"stopped: no program runs {exp.name} now; it is marked stopped"
    else:
        line = (f"stop requested: the sweeplab running {exp.name} has not answered within "
                f"{STOP_ANSWER_SECONDS:g} s; it stops its trials when it next looks")
    console.print(line, markup=False)
    return 0
