"""``sweeplab clusters ...``: saved Slurm clusters, managed and tested without a display.

A cluster logs in through a saved server (``--login NAME``: its host, key or password,
known host key), or submits with ``sbatch`` on this machine when the app runs on the
login node. Nothing secret is stored with a cluster.
"""

from __future__ import annotations

import argparse
import shlex

from rich.markup import escape
from rich.table import Table

from app.application.clusters import ClusterProfile, Clusters, InvalidProfile, check_cluster
from app.application.database import open_if_stored, open_store
from app.commands.console import console
from app.engine.errors import Problem, ValidationError

_ADD_ONE = "add one with `sweeplab clusters add`"
"""What to do when none is saved."""

EXIT_FAILED = 1


def _login_text(profile: ClusterProfile) -> str:
    return profile.login or "this machine"


def _resources(profile: ClusterProfile) -> str:
    gpus = "experiment's" if profile.gpus_per_trial is None else str(profile.gpus_per_trial)
    return (f"{profile.cpus_per_trial} CPU, {profile.memory or 'default'} memory, "
            f"GPUs: {gpus}")


def _add(args: argparse.Namespace) -> int:
    profile = ClusterProfile(
        name=args.name, login=args.login, workdir=args.workdir, partition=args.partition,
        account=args.account, qos=args.qos, cpus_per_trial=args.cpus, memory=args.mem,
        gpus_per_trial=args.gpus, max_parallel=args.max_parallel, setup=args.setup,
        python=args.python, sbatch_args=tuple(args.sbatch_args))
    try:
        check_cluster(profile)
    except InvalidProfile as exc:
        raise ValidationError(Problem("", problem) for problem in exc.problems) from None
    with open_store(args.db) as store:
        Clusters(store).add(profile)
    print(f"saved cluster {profile.name} (login: {_login_text(profile)}, partition: "
          f"{profile.partition or 'default'})")
    return 0


def _ls(args: argparse.Namespace) -> int:
    opened = open_if_stored(args.db)
    if opened is None:  # before the first run: nothing saved anywhere yet
        print(f"no clusters saved yet; {_ADD_ONE}")
        return 0
    with opened as store:
        saved = Clusters(store).list()
        if not saved:
            print(f"no clusters saved in {store.url}; {_ADD_ONE}")
            return 0
        table = Table(title=f"clusters in {escape(store.url)}", title_justify="left")
    for column in ("name", "login", "partition", "resources per trial", "parallel", "workdir"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for profile in saved:  # every cell literally: a user's text may hold '[...]'
        table.add_row(*(escape(cell) for cell in (
            profile.name, _login_text(profile), profile.partition or "default",
            _resources(profile), str(profile.max_parallel), profile.workdir)))
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        profile = Clusters(store).get(args.name)
    rows = [
        ("name", profile.name), ("login", _login_text(profile)),
        ("workdir", profile.workdir), ("partition", profile.partition or "default"),
        ("account", profile.account or "default"), ("qos", profile.qos or "default"),
        ("per trial", _resources(profile)), ("max parallel", str(profile.max_parallel)),
        ("setup", profile.setup or "—"), ("python", profile.python),
        ("sbatch args", shlex.join(profile.sbatch_args) or "—"),
    ]
    for label, value in rows:
        print(f"{label + ':':<14}{value}")
    return 0


def _test(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        report = Clusters(store).test(args.name, args.timeout)
    print(str(report))
    return 0 if report.ok else EXIT_FAILED


def _rm(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        Clusters(store).remove(args.name)
    print(f"removed cluster {args.name} (jobs it has in Slurm are not touched)")
    return 0
