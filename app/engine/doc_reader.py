"""Checked reads of a loaded experiment document: :class:`DocReader`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

from app.engine.errors import Problem
from app.engine.space.document import describe, number_problem

MAX_INTEGER = 2**31 - 1
"""Largest whole number a limit, seed or count may be."""
MAX_SECONDS = 10.0 * 365 * 24 * 3600
"""Longest time limit: ten years (anything more is a typo, and overflows timers)."""


class DocReader:
    """Reads fields of one document, collecting a :class:`Problem` per bad field (with
    its dotted path) instead of stopping at the first; each reader returns a fallback
    value after noting the problem, so one pass finds every problem."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(self, key: str, allowed: set[str]) -> dict[str, Any]:
        value = self.doc.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, f"expected a mapping, got {describe(value)}")
            return {}
        for extra in sorted(set(value) - allowed):
            self.problem(f"{key}.{extra}", "unknown field")
        return value

    def text(self, where: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = where.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "missing" if value is None else
                         f"expected a non-empty text, got {describe(value)}")
            return ""
        return value

    def integer(self, where: dict[str, Any], key: str, path: str, default: int | None,
                minimum: int) -> int | None:
        value = where.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected a whole number, got {describe(value)}")
            return default
        if value < minimum:
            self.problem(path, f"must be >= {minimum}, got {describe(value)}")
            return default
        if value > MAX_INTEGER:
            self.problem(path, f"must be <= {MAX_INTEGER}, got {describe(value)}")
            return default
        return value

    def seconds(self, where: dict[str, Any], key: str, path: str) -> float | None:
        value = where.get(key)
        if value is None:
            return None
        if number_problem(value) is not None or value <= 0 or value > MAX_SECONDS:
            self.problem(path, f"expected a positive number of seconds (at most "
                               f"{MAX_SECONDS:g}), got {describe(value)}")
            return None
        return float(value)

    def path(self, raw: str, base_dir: Path, path: str) -> Path | None:
        """``raw`` (``~`` expanded) against ``base_dir``, absolute; None with a problem."""
        try:
            return (base_dir / Path(raw).expanduser()).resolve()
        except (ValueError, RuntimeError, OSError) as exc:  # NUL byte, ~nobody, too long
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problem(path, f"{describe(raw)} is not a usable path: {reason}")
            return None

    def enum(self, where: dict[str, Any], key: str, path: str, kind: type[Enum],
             default: Enum) -> Any:
        value = where.get(key, default.value)
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(str(m.value) for m in kind)
            self.problem(path, f"unknown {describe(value)} (expected one of {names})")
            return default
