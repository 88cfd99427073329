"""What an experiment's name may hold: :func:`name_problem`, the one rule.

The experiment file's ``name``, ``sweeplab run --name``, the app's New, Rename and
Duplicate dialogs and the store all check a name with it. A name is printed in
tables and log lines and typed back on the command line (``sweeplab resume NAME``),
so it is one line of visible text that never reads as an option.
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_NAME_CHARS = 255
"""The longest experiment name (the database's column holds this many characters)."""

NAME_RULE = (f"1 to {MAX_NAME_CHARS} printable characters (letters, digits, spaces, "
             "punctuation, symbols), not starting with '-' and not starting or ending "
             "with a space")
"""The rule in words, for messages and the README."""


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an experiment's name, followed by the rule, or None when
    it can.

    Refused: a non-text or empty name; more than :data:`MAX_NAME_CHARS` characters;
    a character that is not printable (a newline, tab, NUL or other control character,
    a format character such as a right-to-left override, a line or paragraph
    separator, a space other than the plain one; ``str.isprintable``); a space at the
    start or end; a ``-`` at the start (``sweeplab resume -rf`` would read as options).
    """
    reason = _reason(name)
    return None if reason is None else f"{reason}; a name is {NAME_RULE}"


def _reason(name: object) -> str | None:
    if not isinstance(name, str):
        return f"expected a text, got {type(name).__name__}"
    if not name.strip():
        return "it is empty" if not name else "it is only spaces"
    if len(name) > MAX_NAME_CHARS:
        return f"it is {len(name)} characters long, over the limit of {MAX_NAME_CHARS}"
    for position, char in enumerate(name):
        if not char.isprintable():
            return f"it holds {char!r} at position {position}, which is not printable"
    if name != name.strip():
        return "it starts or ends with a space"
    if name.startswith("-"):
        return "it starts with '-', so a command would read it as an option"
    return None


def check_name(name: object) -> str:
    """``name`` if it may be an experiment's name.

    Raises:
        ValueError: ``experiment name 'x': <why>; a name is <the rule>``.
    """
    problem = name_problem(name)
    if problem is not None or not isinstance(name, str):
        raise ValueError(f"experiment name {_shown(name)}: {problem}")
    return name


_COPY = re.compile(r"^(?P<base>.*?) copy(?: (?P<number>[1-9][0-9]*))?$", re.DOTALL)


def copy_name(name: str, taken: Collection[str]) -> str:
    """The name proposed for a copy of ``name``: ``<name> copy``, else ``<name> copy 2``,
    ``copy 3``... the first that is not ``taken``. A copy of a copy counts on from its
    base (``exp copy`` gives ``exp copy 2``, not ``exp copy copy``). The base is cut so
    that the result keeps to :func:`name_problem`'s rule."""
    match = _COPY.match(name)
    base = match.group("base") if match and match.group("base") else name
    if name_problem(base) is not None:  # not a stored name: propose a plain one
        base = "experiment"
    number = 1
    while True:
        suffix = " copy" if number == 1 else f" copy {number}"
        candidate = base[:MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."
