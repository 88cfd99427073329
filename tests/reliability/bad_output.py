"""Broken trial output: prints a corpus log, or one made on the fly, to stdout.

Run as a trial (``python bad_output.py NAME``): NAME is a path of a file in
``tests/data/bad/output`` (its bytes are printed as they are) or ``@long-line.log`` /
``@100mb.log``, made here block by block so neither is ever whole in memory. The
test imports :func:`blocks` to feed the same bytes to the line parser. Stdlib only:
this file is copied into a trial's code directory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

MARKER = b"#sweeplab "
BIG_BLOCKS = 100
"""``@100mb.log``: this many blocks of ~1 MB, each ending with one good metric line."""


def metric(value: float, step: int) -> bytes:
    """One good marked line reporting ``loss``."""
    return MARKER + b'{"metric": "loss", "value": %s, "step": %d}\n' % (repr(value).encode(), step)


def blocks(name: str) -> Iterator[bytes]:
    """The bytes of the output ``name``, in pieces of at most a few MB."""
    if name == "@long-line.log":
        yield metric(0.7, 1)
        yield MARKER + b'{"metric": "loss", "value": 0.1, "note": "'
        for _ in range(5):  # one line of 5 MB
            yield b"x" * (1 << 20)
        yield b'"}\n'
        yield metric(0.3, 2)
    elif name == "@100mb.log":
        yield MARKER + b'{"metric": "loss", "value": 0.0\n'  # a bad line, for a warning
        junk = (b"j" * 1023 + b"\n") * 1024  # 1 MB of plain lines
        for step in range(1, BIG_BLOCKS + 1):
            yield junk
            yield metric(1 / step, step)
    else:
        yield Path(name).read_bytes()


def main() -> int:
    """Print the output named by the first argument; exit 0."""
    out = sys.stdout.buffer
    for block in blocks(sys.argv[1]):
        out.write(block)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
