"""What the guided setup derives from a user's answers; plain Python, no widgets.

The trial command for a script, a name not yet used, whether a script reports
already, and the experiment document with a starter space (see
:mod:`app.views.first_run` for the wizard that asks).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.engine.experiment import LOCAL_HOST
from app.engine.protocol import AUPTIMIZER_MARKER, MARKER
from app.engine.search.base import Goal
from app.engine.space.document import space_to_dict
from app.engine.space.proposal import params_in_script, space_from_script

STARTER_SPACE: dict[str, Any] = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-5, "max": 0.1, "default": 1e-3},
    {"name": "batch_size", "type": "choice", "auto": True, "values": [16, 32, 64, 128],
     "default": 32},
]}
"""The space a guided experiment starts with: two common knobs, to edit in the Space tab."""
STARTER_LIMITS = {"max_trials": 20, "max_parallel": 1}


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (links resolved)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def command_for(script: Path, code_dir: Path) -> str:
    """The trial command that runs ``script`` from a copy of ``code_dir``.

    ``{python}`` (the host's Python) for ``.py``, ``bash`` for ``.sh``, else the file
    itself; the path is relative to the code directory and shell-quoted.

    Raises:
        ValueError: the script is not inside the code directory.
    """
    if not inside(script, code_dir):
        raise ValueError(f"the script {script} is not inside the code directory {code_dir}: "
                         "only that folder is copied to each trial")
    relative = script.resolve().relative_to(code_dir.resolve()).as_posix()
    quoted = shlex.quote(relative)
    if script.suffix == ".py":
        return f"{{python}} {quoted}"
    if script.suffix == ".sh":
        return f"bash {quoted}"
    return quoted if "/" in relative else f"./{quoted}"


def reports_already(script_text: str) -> bool:
    """Whether a script's text seems to report metrics Sweeplab reads already."""
    return any(mark in script_text for mark in
               ("sweeplab.report(", MARKER.strip(), AUPTIMIZER_MARKER))


def unique_name(stem: str, taken: Iterable[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… whichever is not taken yet."""
    used = set(taken)
    base = stem.strip() or "my-experiment"
    name, number = base, 2
    while name in used:
        name, number = f"{base}-{number}", number + 1
    return name


def script_space(script_text: str, filename: str) -> dict[str, Any] | None:
    """The space document a script's ``sweeplab.param("name", default)`` calls propose,
    or None when it has none (the guided setup then starts from :data:`STARTER_SPACE`)."""
    proposal = space_from_script(params_in_script(script_text, filename))
    if not proposal.space.children:
        return None
    return space_to_dict(proposal.space)


def guided_document(name: str, code_dir: str, command: str, kpi: str,
                    goal: Goal, space: dict[str, Any] | None = None) -> dict[str, Any]:
    """The experiment document of a guided setup: TPE over ``space`` (the script's own
    parameters, see :func:`script_space`; :data:`STARTER_SPACE` when None), on this
    machine, one trial at a time, :data:`STARTER_LIMITS`. Not validated here
    (``experiment_from_dict`` does that and names every problem)."""
    return {
        "version": 1, "name": name.strip(), "code_dir": code_dir.strip(),
        "command": command.strip(), "kpi": {"name": kpi.strip(), "goal": goal.value,
                                            "use": "last"},
        "space": STARTER_SPACE if space is None else space, "algorithm": {"name": "tpe"},
        "limits": dict(STARTER_LIMITS), "hosts": [LOCAL_HOST],
    }
