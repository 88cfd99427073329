"""``sweeplab space ...``: check, sample and convert space files without the GUI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.engine.errors import SpaceError
from app.engine.params import flatten
from app.engine.search import Algorithm, GridSearcher, make_searcher
from app.engine.space.files import SpaceFormat, dump_space, load_space
from app.engine.space.nni import nni_losses
from app.engine.space.nodes import NumberParam, Space


def _summary(space: Space) -> str:
    nodes = [node for _, node in space.walk()]
    searched = sum(1 for n in nodes if getattr(n, "auto", False))
    try:
        grid = f"{GridSearcher(space).size} grid points"
    except SpaceError as exc:  # each number that cannot be enumerated, with its reason
        grid = f"not griddable ({'; '.join(map(str, exc.problems))})"
    numbers = sum(1 for n in nodes if isinstance(n, NumberParam))
    return f"{len(nodes)} nodes, {searched} searched, {numbers} numbers; {grid}"


def _load(path: Path) -> Space:
    """The space in ``path``; a refusal is told with the file's name first.

    Raises:
        DocumentError: the file cannot be read as a document (the message names it).
        SpaceError: the space is invalid; each problem names its tree path.
    """
    try:
        return load_space(path)
    except SpaceError as exc:
        count = len(exc.problems)
        print(f"{path}: not a valid space ({count} problem{'s' if count > 1 else ''})",
              file=sys.stderr)
        raise


def _check(args: argparse.Namespace) -> int:
    space = _load(args.file)
    print(f"{args.file}: valid ({_summary(space)})")
    return 0


def _sample(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise ValueError(f"-n must be >= 0, got {args.n}")
    space = _load(args.file)
    searcher = make_searcher(Algorithm(args.algo), space, seed=args.seed)
    for trial_id in range(1, args.n + 1):
        params = searcher.suggest(trial_id)
        if params is None:
            break
        sys.stdout.write(json.dumps(flatten(params)) + "\n")
    return 0


def _convert(args: argparse.Namespace) -> int:
    space = _load(args.file)
    fmt = SpaceFormat(args.to)
    text = dump_space(space, fmt, "json" if args.json else "yaml")
    losses = nni_losses(space) if fmt is SpaceFormat.NNI else []
    if losses:
        print(f"note: NNI's format has no defaults and no fixed nodes; read back, "
              f"{len(losses)} thing{'s' if len(losses) > 1 else ''} change:", file=sys.stderr)
        for line in losses:
            print(f"  {line}", file=sys.stderr)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
