"""LineSplitter: complete lines, byte offsets, bounded memory on huge lines."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.remote.logtail import LineSplitter


def split_all(data: bytes, cuts: list[int], offset: int = 0) -> tuple[list[str], list[int]]:
    """Lines and the offset after each feed, feeding ``data`` cut at ``cuts``."""
    splitter = LineSplitter(offset)
    lines: list[str] = []
    offsets: list[int] = []
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(bounds):
        got = splitter.feed(data[start:end])
        lines += got
        if got:
            offsets.append(splitter.offset)
    lines += splitter.finish()
    offsets.append(splitter.offset)
    return lines, offsets


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
)
def test_any_chunking_gives_the_same_lines_and_offsets(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    lines, offsets = split_all(data, cuts)
    expected = [p.decode("utf-8", "replace") for p in data.split(b"\n")]
    if expected and expected[-1] == "":
        expected.pop()  # nothing after the last newline: no partial line
    assert lines == expected
    assert offsets[-1] == len(data)
    # every offset is a line boundary: restarting there repeats and loses nothing
    for offset in offsets:
        rest, _ = split_all(data[offset:], [], offset)
        done = data[:offset].count(b"\n") + (1 if offset == len(data) and data
                                              and not data.endswith(b"\n") else 0)
        assert rest == expected[done:]


def test_offsets_count_bytes_not_characters() -> None:
    splitter = LineSplitter(offset=100)
    assert splitter.feed("café\nna".encode()) == ["café"]
    assert splitter.offset == 106 and splitter.pending_bytes == 2
    assert splitter.feed(b"\xff\xfe\r\n") == ["na\ufffd\ufffd"]
    assert splitter.offset == 112
    assert splitter.finish() == []


def test_long_line_is_cut_with_a_marker() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"0123456789abcdef\nshort\n") == [
        "0123456789 [... 6 bytes cut by sweeplab]", "short"]
    assert splitter.feed(b"x" * 25) == []
    assert splitter.finish() == ["xxxxxxxxxx [... 15 bytes cut by sweeplab]"]
    assert splitter.offset == 17 + 6 + 25


def test_a_100_mb_line_costs_little_memory() -> None:
    splitter = LineSplitter()
    chunk = b"y" * (1 << 20)
    tracemalloc.start()
    try:
        for _ in range(100):
            assert splitter.feed(chunk) == []
        lines = splitter.feed(b"\nafter\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * (1 << 20)  # one chunk's split copy at most, not 100 MB
    assert lines[0].startswith("y" * 65536) and lines[0].endswith(
        f"[... {100 * (1 << 20) - 65536} bytes cut by sweeplab]")
    assert lines[1] == "after" and splitter.offset == 100 * (1 << 20) + 7


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="offset must be >= 0"):
        LineSplitter(-1)
    with pytest.raises(ValueError, match="max_line must be > 0"):
        LineSplitter(max_line=0)
