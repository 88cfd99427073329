"""The ``sweeplab`` command: the engine from a terminal, and the GUI with no arguments."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from app.commands import parsers
from app.engine.errors import ValidationError
from app.engine.ports import StoreError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_PIPE_CLOSED = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader went away."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (light: see :mod:`app.commands.parsers`)."""
    parser = argparse.ArgumentParser(
        prog="sweeplab",
        description="Hyperparameter optimisation from the desktop or a terminal. "
        "Without a command, opens the app (same as `sweeplab gui`).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers.add_space(sub)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: $SWEEPLAB_DB, else the local SQLite file)")
    parsers.add_run(sub, common)
    parsers.add_experiments(sub, common)
    parsers.add_servers(sub, common)
    parsers.add_clusters(sub, common)
    gui = sub.add_parser("gui", help="open the app (the default without a command)")
    gui.add_argument("--demo", action="store_true", help="make sure the demo experiment exists")
    gui.add_argument("--smoke", action="store_true",
                     help="start-up check: show the window on the demo in a temporary data "
                     "directory, print the time to first window, exit")
    gui.add_argument("--db", metavar="URL", default=None, help="database URL")
    gui.set_defaults(handler=_gui)
    return parser


def _gui(args: argparse.Namespace) -> int:
    from app.main import run_gui  # Qt is loaded only when the GUI is asked for

    return run_gui(demo=getattr(args, "demo", False), smoke=getattr(args, "smoke", False),
                   db=getattr(args, "db", None))


def _stored_experiment(args: argparse.Namespace) -> str:
    """``experiment 'NAME': `` for a command on a stored experiment (show, resume...), so
    that a problem in its stored definition says which experiment it is in; else ''."""
    name = getattr(args, "experiment", None)
    return f"experiment {name!r}: " if isinstance(name, str) else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print plain lines and exit 2, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", _gui)
    try:
        return int(handler(args))
    except ValidationError as exc:
        where = _stored_experiment(args)
        for problem in exc.problems:
            print(f"error: {where}{problem}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `sweeplab ... | head`: the reader took what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no 2nd error at exit
        return EXIT_PIPE_CLOSED
    except (ValueError, OSError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last resort: say what happened, no traceback
        if os.environ.get("SWEEPLAB_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} "
              "(set SWEEPLAB_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
