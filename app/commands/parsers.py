"""Every ``sweeplab`` subcommand's arguments, built without loading what the commands do.

``sweeplab --help`` and the parsing of any command import only this module: each
command's handler is named by a :class:`Handler`, which imports its module (the engine,
the store, SSH, Slurm...) when the command runs. ``tests/test_startup.py`` fails when
``--help`` loads hyperopt, scipy, sklearn, paramiko or Qt.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.engine.choices import Algorithm, SpaceFormat


@dataclass(frozen=True)
class Handler:
    """A command's handler, ``app.commands.<module>.<function>``, imported when called."""

    module: str
    function: str

    def load(self) -> Callable[[argparse.Namespace], int]:
        """Import the handler's module (and what it needs); the handler."""
        module = importlib.import_module(f"app.commands.{self.module}")
        function: Callable[[argparse.Namespace], int] = getattr(module, self.function)
        return function

    def __call__(self, args: argparse.Namespace) -> int:
        """Run the command; its exit status."""
        return int(self.load()(args))


def add_space(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``space`` and its subcommands."""
    space = sub.add_parser("space", help="check, sample and convert search-space files")
    cmds = space.add_subparsers(dest="space_command", required=True, metavar="COMMAND")

    check = cmds.add_parser("check", help="validate a space file (exit 2 on problems)")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=Handler("space_cmd", "_check"))

    sample = cmds.add_parser("sample", help="print sampled configurations as JSON lines")
    sample.add_argument("file", type=Path)
    sample.add_argument("-n", type=int, default=10, help="how many (default 10)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--algo", choices=[a.value for a in Algorithm], default=Algorithm.RANDOM.value
    )
    sample.set_defaults(handler=Handler("space_cmd", "_sample"))

    convert = cmds.add_parser("convert", help="write the space in another format")
    convert.add_argument("file", type=Path)
    convert.add_argument("--to", choices=[f.value for f in SpaceFormat], required=True)
    convert.add_argument("--json", action="store_true", help="sweeplab format as JSON, not YAML")
    convert.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    convert.set_defaults(handler=Handler("space_cmd", "_convert"))


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser],
            common: argparse.ArgumentParser) -> None:
    """Register ``run``, ``resume`` and ``requeue-failed``."""
    run = sub.add_parser("run", parents=[common], help="run an experiment file in the foreground")
    run.add_argument("file", type=Path)
    run.add_argument("--name", help="store it under this name instead of the file's")
    run.set_defaults(handler=Handler("run_cmd", "_run"))
    resume = sub.add_parser("resume", parents=[common],
                            help="continue a stopped or interrupted experiment")
    resume.add_argument("experiment", help="name or id")
    resume.set_defaults(handler=Handler("run_cmd", "_resume"))
    requeue = sub.add_parser("requeue-failed", parents=[common],
                             help="run every trial whose params only ever failed once more, "
                                  "then continue the experiment")
    requeue.add_argument("experiment", help="name or id")
    requeue.set_defaults(handler=Handler("run_cmd", "_requeue_failed"))


def add_experiments(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                    common: argparse.ArgumentParser) -> None:
    """Register the experiment commands."""
    ls = sub.add_parser("ls", parents=[common], help="list experiments")
    ls.set_defaults(handler=Handler("exp_cmd", "_ls"))
    show = sub.add_parser("show", parents=[common], help="an experiment's trials")
    show.add_argument("experiment", help="name or id")
    show.set_defaults(handler=Handler("exp_cmd", "_show"))
    export = sub.add_parser("export", parents=[common], help="trials as CSV or JSON")
    export.add_argument("experiment", help="name or id")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    pbt = export.add_mutually_exclusive_group()
    pbt.add_argument("--schedule", action="store_true",
                     help="PBT: the best trial's schedule (params by step) instead of trials")
    pbt.add_argument("--lineage", action="store_true",
                     help="PBT: every trial's segments and who copied whom")
    export.set_defaults(handler=Handler("exp_cmd", "_export"))
    stop = sub.add_parser("stop", parents=[common], help="ask a running experiment to stop")
    stop.add_argument("experiment", help="name or id")
    stop.set_defaults(handler=Handler("exp_cmd", "_stop"))


def gpu_list(text: str) -> tuple[int, ...] | None:
    """``--gpus``: ``all`` (None), ``none`` (no GPU) or indices such as ``0,1``."""
    value = text.strip().lower()
    if value == "all":
        return None
    if value in ("none", ""):
        return ()
    try:
        indices = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected GPU indices like 0,1, or 'all' or 'none'; got {text!r}") from None
    if any(index < 0 for index in indices):
        raise argparse.ArgumentTypeError(f"GPU indices must be >= 0, got {text!r}")
    return indices


def add_servers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    """Register ``servers`` and its subcommands."""
    servers = sub.add_parser("servers", help="saved lab servers: add, list, test, remove, import")
    cmds = servers.add_subparsers(dest="servers_command", required=True, metavar="COMMAND")

    add = cmds.add_parser("add", parents=[common], help="save a server profile")
    add.add_argument("name", help="the profile's name, as used in `hosts: [local, NAME]`")
    add.add_argument("--host", required=True, help="host name or address")
    add.add_argument("--port", type=int, default=22)
    add.add_argument("--user", required=True, help="login user")
    auth = add.add_mutually_exclusive_group()
    auth.add_argument("--key", metavar="FILE", help="log in with this private key")
    auth.add_argument("--agent", action="store_true", help="log in with ssh-agent (default)")
    auth.add_argument("--password-prompt", action="store_true",
                      help="log in with a password, asked now and kept in the OS keyring")
    add.add_argument("--passphrase-prompt", action="store_true",
                     help="ask now for the passphrase of --key and keep it in the OS keyring")
    add.add_argument("--workdir", default="~/sweeplab", help="trial folder on the server")
    add.add_argument("--setup", default="", metavar="CMD",
                     help="shell code run before each trial, e.g. 'conda activate x'")
    add.add_argument("--python", default="python3", help="python to use on the server")
    add.add_argument("--max-parallel", type=int, default=1, metavar="N")
    add.add_argument("--gpus", type=gpu_list, default=None, metavar="0,1",
                     help="GPU indices to use, 'all' (default) or 'none'")
    add.add_argument("--trials-per-gpu", type=int, default=1, metavar="N")
    add.add_argument("--allow-busy-gpus", action="store_true",
                     help="also use GPUs that run other people's processes")
    add.set_defaults(handler=Handler("servers_cmd", "_add"))

    ls = cmds.add_parser("ls", parents=[common], help="list saved servers (no secrets)")
    ls.set_defaults(handler=Handler("servers_cmd", "_ls"))

    show = cmds.add_parser("show", parents=[common], help="one server's settings")
    show.add_argument("name")
    show.set_defaults(handler=Handler("servers_cmd", "_show"))

    test = cmds.add_parser("test", parents=[common],
                           help="connect and check that trials can run there (exit 0 if so)")
    test.add_argument("name")
    test.add_argument("--accept-host-key", metavar="SHA256:...",
                      help="accept the server's host key if it has this fingerprint")
    test.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    test.set_defaults(handler=Handler("servers_cmd", "_test"))

    rm = cmds.add_parser("rm", parents=[common], help="forget a server and its saved secrets")
    rm.add_argument("name")
    rm.set_defaults(handler=Handler("servers_cmd", "_rm"))

    imp = cmds.add_parser("import", parents=[common], help="save the hosts of an ssh config")
    imp.add_argument("--ssh-config", type=Path, default=None, metavar="FILE",
                     help="the OpenSSH client config to read (default ~/.ssh/config)")
    imp.add_argument("--only", nargs="+", default=None, metavar="NAME",
                     help="import only these hosts")
    imp.set_defaults(handler=Handler("servers_cmd", "_import"))


def add_clusters(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    """Register ``clusters`` and its subcommands."""
    clusters = sub.add_parser("clusters", help="saved Slurm clusters: add, list, test, remove")
    cmds = clusters.add_subparsers(dest="clusters_command", required=True, metavar="COMMAND")

    add = cmds.add_parser("add", parents=[common], help="save a Slurm cluster")
    add.add_argument("name", help="the cluster's name, as used in `hosts: [local, NAME]`")
    add.add_argument("--login", metavar="SERVER",
                     help="the saved server of its login node (default: sbatch runs here)")
    add.add_argument("--workdir", default="~/sweeplab",
                     help="trial folder on a file system the compute nodes share")
    add.add_argument("--partition", default="", help="--partition (default: the cluster's)")
    add.add_argument("--account", default="", help="--account to charge")
    add.add_argument("--qos", default="", help="--qos")
    add.add_argument("--cpus", type=int, default=1, metavar="N", help="CPUs per trial")
    add.add_argument("--mem", default="", metavar="SIZE", help="memory per trial, e.g. 8G")
    add.add_argument("--gpus", type=int, default=None, metavar="N",
                     help="GPUs per trial as --gres=gpu:N (default: the experiment's)")
    add.add_argument("--max-parallel", type=int, default=10, metavar="N",
                     help="jobs kept pending plus running at once")
    add.add_argument("--setup", default="", metavar="CMD",
                     help="shell code run before Slurm commands and trials, e.g. "
                     "'module load slurm'")
    add.add_argument("--python", default="python3", help="python on the compute nodes")
    add.add_argument("--sbatch-arg", action="append", default=[], metavar="OPTION",
                     dest="sbatch_args", help="an extra sbatch option, e.g. "
                     "--sbatch-arg=--constraint=a100 (repeatable)")
    add.set_defaults(handler=Handler("clusters_cmd", "_add"))

    ls = cmds.add_parser("ls", parents=[common], help="list saved clusters")
    ls.set_defaults(handler=Handler("clusters_cmd", "_ls"))
    show = cmds.add_parser("show", parents=[common], help="one cluster's settings")
    show.add_argument("name")
    show.set_defaults(handler=Handler("clusters_cmd", "_show"))
    test = cmds.add_parser("test", parents=[common],
                           help="check that trials can be submitted there (exit 0 if so)")
    test.add_argument("name")
    test.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                      help="seconds for connecting to the login node")
    test.set_defaults(handler=Handler("clusters_cmd", "_test"))
    rm = cmds.add_parser("rm", parents=[common], help="forget a cluster (its jobs stay)")
    rm.add_argument("name")
    rm.set_defaults(handler=Handler("clusters_cmd", "_rm"))

