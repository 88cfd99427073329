"""Reading and writing user documents (space and experiment files) as YAML or JSON.

YAML is read with YAML 1.2's number rules, so ``1e-4`` is a float as a person
expects (PyYAML's YAML 1.1 default would read it as a string). PyYAML is imported when
a document is first parsed or written as YAML, not with the engine: a command reading
definitions from the database (``sweeplab ls``) needs none.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.engine.errors import Problem, ValidationError

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


class DocumentError(ValidationError):
    """A file that cannot be read as a document at all (missing, not UTF-8, syntax)."""


if TYPE_CHECKING:
    import yaml


@cache
def _loader() -> type[yaml.SafeLoader]:
    """SafeLoader with YAML 1.2 floats (``1e-4``, ``+1.5E3``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader with YAML 1.2 floats."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    return Loader


def parse_text(text: str, source: str, fmt: str | None = None) -> Any:
    """Parse YAML or JSON text; ``fmt`` is "json", "yaml" or None (JSON is valid YAML).

    Raises:
        DocumentError: with the source name, line and column of a syntax error.
    """
    import yaml

    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_loader())
    except json.JSONDecodeError as exc:
        raise DocumentError(
            [Problem(source, f"line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        raise DocumentError([Problem(source, f"{where}YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise DocumentError([Problem(source, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise DocumentError([Problem(source, "nested too deeply to read "
                                             "(lists or mappings inside each other)")]) from None
    except ValueError as exc:  # e.g. an integer longer than Python reads (4300 digits)
        raise DocumentError([Problem(source, f"cannot read a value: {exc}")]) from None


def load_file(path: Path) -> Any:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) file.

    Raises:
        DocumentError: missing, unreadable, too large, not UTF-8, or a syntax error.
    """
    source = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:  # at most one byte past the limit: a device such
            raw = file.read(MAX_DOCUMENT_BYTES + 1)  # as /dev/zero or a pipe never ends
    except FileNotFoundError:
        raise DocumentError([Problem(source, "no such file")]) from None
    except IsADirectoryError:
        raise DocumentError([Problem(source, "is a directory, not a file")]) from None
    except OSError as exc:
        raise DocumentError([Problem(source, f"cannot read: {exc.strerror}")]) from None
    except ValueError as exc:  # a NUL byte in the name
        raise DocumentError([Problem(source, f"not a usable file name: {exc}")]) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        what = (f"file is {size} bytes" if size > MAX_DOCUMENT_BYTES else
                f"holds more than {MAX_DOCUMENT_BYTES} bytes (a device or a pipe without end?)")
        raise DocumentError([Problem(source, f"{what}; documents larger than "
                                             f"{MAX_DOCUMENT_BYTES} are refused")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DocumentError([Problem(source, f"line {line}: not UTF-8 text "
                                             f"(byte 0x{raw[exc.start]:02x})")]) from None
    fmt = "json" if path.suffix.lower() == ".json" else None
    return parse_text(text, source, fmt)


def dump_text(doc: Any, fmt: str = "yaml") -> str:
    """Write a document as YAML (block style, key order kept) or JSON (indented)."""
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None)
