"""The ``sweeplab`` command: the engine from a terminal, and the GUI with no arguments."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from app.commands import parsers

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
        "Without a command, opens the app (same as `sweeplab gui`) and takes its options.",
    )
    # the app's options, for `sweeplab [--db URL] [--demo] [--smoke]` without a command;
    # their own dests, as a subcommand's defaults would overwrite same-named ones
    parser.add_argument("--db", dest="app_db", metavar="URL", default=None,
                        help="database URL (default: $SWEEPLAB_DB, else the local SQLite "
                        "file); also taken by a command that follows")
    parser.add_argument("--demo", dest="app_demo", action="store_true",
                        help="open the app and make sure the demo experiment exists")
    parser.add_argument("--smoke", dest="app_smoke", action="store_true",
                        help="the app's start-up check (see `sweeplab gui --help`)")
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
    gui.set_defaults(handler=GUI)
    return parser


def _app_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Give the options written before the command (``sweeplab --db URL ls``, or with no
    command at all) to the app or the command; refuse what the command cannot use."""
    app_db = getattr(args, "app_db", None)
    if args.command is None or args.command == "gui":
        args.db = getattr(args, "db", None) or app_db
        args.demo = getattr(args, "demo", False) or args.app_demo
        args.smoke = getattr(args, "smoke", False) or args.app_smoke
        return
    if args.app_demo or args.app_smoke:
        parser.error("--demo and --smoke open the app: give them without a command")
    if app_db is not None:
        if not hasattr(args, "db"):
            parser.error(f"'sweeplab {args.command}' uses no database: leave out --db")
        if args.db is None:
            args.db = app_db
        elif args.db != app_db:
            parser.error(f"--db is given twice with different URLs ({app_db!r} before "
                         f"{args.command}, {args.db!r} after it)")


def _gui(args: argparse.Namespace) -> int:
    from app.main import run_gui  # Qt is loaded only when the GUI is asked for

    return run_gui(demo=getattr(args, "demo", False), smoke=getattr(args, "smoke", False),
                   db=getattr(args, "db", None))


class _GuiHandler:
    """The window's handler: as a command's :class:`~app.commands.parsers.Handler`,
    :meth:`load` imports what it needs up to the window's first paint (the store, Qt,
    the main window; not the tabs made after it), so that the program freezes those
    modules for the collector as it does a command's (~80 ms of collections otherwise)."""

    def load(self) -> Callable[[argparse.Namespace], int]:
        """Import the window's modules; the handler."""
        import app.main
        import app.views.main_window  # noqa: F401  (imported for its side effect)

        return _gui

    def __call__(self, args: argparse.Namespace) -> int:
        """Open the window; its exit status."""
        return self.load()(args)


GUI = _GuiHandler()


def _stored_experiment(args: argparse.Namespace) -> str:
    """``experiment 'NAME': `` for a command on a stored experiment (show, resume...), so
    that a problem in its stored definition says which experiment it is in; else ''."""
    name = getattr(args, "experiment", None)
    return f"experiment {name!r}: " if isinstance(name, str) else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print plain lines and exit 2, never a traceback.

    Run as the program (``argv`` None: ``sweeplab``, ``python -m app``), Python's cycle
    collector is off while the command's modules are imported, and what exists then and
    at the end is frozen (:func:`gc.freeze`): the imports make ~100,000 objects that live
    as long as the process, which the collector would otherwise walk again and again
    while they are made (~60 ms of a ``sweeplab ls``) and once more at exit (~150 ms).
    Called from Python (tests, scripts), the caller's collector is left alone.
    """
    program = argv is None
    if program:
        gc.disable()
    parser = build_parser()
    args = parser.parse_args(argv)
    _app_options(parser, args)
    try:
        return _run(getattr(args, "handler", GUI), args, settle=program)
    finally:
        if program:
            gc.freeze()  # nothing left for the exit's collection to walk


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, *,
         settle: bool) -> int:
    """Import the command's modules (``settle``: then freeze them and turn the collector
    back on), run it; user errors print plain lines and exit 2, never a traceback."""
    # the errors a command reports as bad input: loaded once a command runs, not for --help
    from app.engine.errors import ValidationError
    from app.engine.ports import StoreError

    try:
        command = handler.load() if isinstance(handler, parsers.Handler | _GuiHandler) \
            else handler
        if settle:
            gc.freeze()  # the modules: never walked again
            gc.enable()
        return int(command(args))
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
