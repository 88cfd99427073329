"""The bundled program's entry point: the ``sweeplab`` command, the app by default.

Options given without a command go to the app (``sweeplab --smoke`` is
``sweeplab gui --smoke``), so a desktop launcher and the installers' start-up check
need not name the subcommand.
"""

from __future__ import annotations

import multiprocessing
import sys

from app.cli import main

HELP = {"-h", "--help"}


def arguments(argv: list[str]) -> list[str]:
    """``argv`` (without the program) with ``gui`` put first when it starts with an option."""
    if argv and argv[0].startswith("-") and argv[0] not in HELP:
        return ["gui", *argv]
    return argv


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main(arguments(sys.argv[1:])))
