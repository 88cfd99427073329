"""What the space editor tells about itself: its help text and the names it completes
(no Qt here)."""

from __future__ import annotations

import re

from app.engine.space.nodes import Node, Space
from app.views.space_editor.tree import BY_NAME_BASE, COMMON_NAMES, NodeKind

_GENERATED = re.compile(
    "^(" + "|".join(sorted({BY_NAME_BASE, "branch", *(k.base_name for k in NodeKind)}))
    + r"|[a-z])(_\d+)?$")

EDITOR_HELP = """\
Adding: + Add (or Ctrl+Enter) adds a node after the current one (into a group) and
opens its name; Ctrl+Shift+Enter adds into the current group, or a branch to a choice of
groups. The name gives the kind: use_*, is_*, enable_*: a boolean; tag, *_name, *_path,
*_dir: a string; activation, loss, init: a choice of strings; optimizer, scheduler,
arch: a choice of groups; anything else a number, with a range from its name (lr:
log-uniform, epochs and units: an int...). The arrow of + Add, Add child and Add sibling
pick a kind yourself.

Names complete as you type: common hyperparameters (batch_size, momentum, optimizer...)
and the names already in the space; Enter takes the completion, Delete drops it.

Along a row: Enter goes name → default → range or values and, at the end of a row you
added, on to a new row (into a new group, or into the first branch of a new choice of
groups); leave that row with Escape or a click and it goes again. Tab also stops at a
number's type (float or int) and goes on to the next row; Shift+Tab goes back. Typing
on a selected cell starts editing it.

Values: a choice's values are one line, "16, 32, 64" (a new default of numbers is the
middle one); branch names likewise, "sgd, adam" (a new branch copies the children of
the last one). In a range, a letter picks the distribution (l: loguniform, q:
quniform, f: fixed...), Tab goes to min, max and step; a digit starts the range as
text instead: "1e-5..0.1 log", "16..128 step 16 int", "32..256 randint", "normal 0 1"
(Enter applies it as one step; what cannot be read is said beside it).

Ctrl+V pastes a space as YAML or JSON; Propose from script… reads the
sweeplab.param("name", default) calls of your script. Every edit is one undo step
(Ctrl+Z, Ctrl+Y)."""


def completions(space: Space, node: Node) -> list[str]:
    """The names the name cell of ``node`` completes: :data:`COMMON_NAMES` and the
    names used in ``space`` (not those the editor gives new nodes, nor ``node``'s own)."""
    names = set(COMMON_NAMES)
    names.update(n.name for _, n in space.walk() if n is not node)
    return sorted(name for name in names if not _GENERATED.match(name))
