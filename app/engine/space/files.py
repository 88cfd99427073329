"""Space files on disk: our versioned document or NNI's search_space.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.engine.choices import SpaceFormat as SpaceFormat  # its home: a light module for the CLI
from app.engine.docio import dump_text, load_file
from app.engine.errors import Problem, SpaceError
from app.engine.space.document import space_from_dict, space_to_dict
from app.engine.space.nni import from_nni, looks_like_nni, to_nni
from app.engine.space.nodes import Space


def space_from_document(doc: Any, source: str) -> Space:
    """A space from parsed data in either format (NNI recognised by its ``_type`` entries).

    Raises:
        SpaceError: each problem, prefixed with ``source`` when the document is not a space.
    """
    if looks_like_nni(doc):
        return from_nni(doc)
    if isinstance(doc, dict):
        return space_from_dict(doc)
    raise SpaceError([Problem(source, "not a space file: expected a mapping with 'version' "
                                      "and 'space', or an NNI search space")])


def load_space(path: Path) -> Space:
    """Read and validate a space file. Raises DocumentError or SpaceError."""
    return space_from_document(load_file(path), str(path))


def dump_space(space: Space, fmt: SpaceFormat = SpaceFormat.SWEEPLAB, text: str = "yaml") -> str:
    """The space as text: ``fmt`` picks the schema, ``text`` yaml or json (NNI is JSON)."""
    if fmt is SpaceFormat.NNI:
        return dump_text(to_nni(space), "json")
    return dump_text(space_to_dict(space), text)
