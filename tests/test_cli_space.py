"""``sweeplab space ...`` as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.docio import dump_text
from tests.engine.spaces import EVERY_KIND, GRIDDABLE, GRIDDABLE_SIZE, doc, number

ROOT = Path(__file__).resolve().parent.parent


def sweeplab(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )


def write(tmp_path: Path, document: object, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(dump_text(document, "json" if name.endswith(".json") else "yaml"))
    return path


def test_check_accepts_a_valid_space(tmp_path: Path) -> None:
    result = sweeplab("space", "check", write(tmp_path, GRIDDABLE))
    assert result.returncode == 0, result.stderr
    assert f"{GRIDDABLE_SIZE} grid points" in result.stdout


def test_check_says_why_a_valid_space_cannot_be_gridded(tmp_path: Path) -> None:
    stepped_normal = doc(number("n", "normal", mu=0, sigma=1, step=0.5, default=0),
                         number("x", "uniform", min=0, max=1, default=0.5))
    result = sweeplab("space", "check", write(tmp_path, stepped_normal))
    assert result.returncode == 0, result.stderr
    # n has a step: it cannot be gridded because normal has no bounds
    assert "not griddable (n: normal has no bounds to enumerate" in result.stdout
    assert "x: grid search needs a step" in result.stdout
    assert "a continuous number has no step" not in result.stdout


def test_check_reports_every_problem_with_its_path_and_exits_2(tmp_path: Path) -> None:
    bad = doc(
        {"name": "optimizer", "type": "choice", "auto": True, "default": "sgd", "values": [
            {"name": "sgd", "type": "group", "children": [
                number("momentum", "uniform", min=1.5, max=0.99, default=1.0)]}]},
        number("lr", "loguniform", min=0, max=1, default=0.5),
    )
    result = sweeplab("space", "check", write(tmp_path, bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "error: optimizer.sgd.momentum: min 1.5 > max 0.99" in lines
    assert any(line.startswith("error: lr: min 0 must be > 0") for line in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"version: 1\nspace:\n  - {name: a, type: number\n  - b: [\n", "line 4"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"just a string", "not a space file"),
        (b"version: 2\nspace: []\n", "version: unknown version 2"),
    ],
    ids=["yaml-syntax", "binary", "scalar", "version"],
)
def test_unreadable_files_exit_2_without_a_traceback(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "space.yaml"
    path.write_bytes(content)
    result = sweeplab("space", "check", path)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = sweeplab("space", "check", tmp_path / "nope.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_sample_prints_json_lines_with_dotted_keys_reproducibly(tmp_path: Path) -> None:
    path = write(tmp_path, EVERY_KIND)
    first = sweeplab("space", "sample", path, "-n", "5", "--seed", "3")
    again = sweeplab("space", "sample", path, "-n", "5", "--seed", "3")
    other = sweeplab("space", "sample", path, "-n", "5", "--seed", "4")
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(rows) == 5
    assert all("first_dense.neurons" in row and "optimizer" in row for row in rows)
    assert first.stdout == again.stdout != other.stdout


def test_sample_grid_stops_when_the_grid_is_exhausted(tmp_path: Path) -> None:
    path = write(tmp_path, doc(number("n", "randint", min=1, max=3, default=1)))
    result = sweeplab("space", "sample", path, "-n", "10", "--algo", "grid")
    assert [json.loads(line)["n"] for line in result.stdout.splitlines()] == [1, 2, 3]


def test_sample_grid_on_a_continuous_space_explains(tmp_path: Path) -> None:
    path = write(tmp_path, doc(number("x", "uniform", min=0, max=1, default=0)))
    result = sweeplab("space", "sample", path, "--algo", "grid")
    assert result.returncode == 2 and "x: grid search needs a step" in result.stderr


def test_convert_to_nni_and_back(tmp_path: Path) -> None:
    path = write(tmp_path, EVERY_KIND)
    nni_path = tmp_path / "search_space.json"
    result = sweeplab("space", "convert", path, "--to", "nni", "-o", nni_path)
    assert result.returncode == 0, result.stderr
    nni = json.loads(nni_path.read_text())
    assert nni["lr"] == {"_type": "loguniform", "_value": [0.0001, 0.1]}
    assert "note: NNI's format has no defaults and no fixed nodes" in result.stderr
    assert "  lr: default 0.01 comes back as 0.00316228" in result.stderr
    back = sweeplab("space", "convert", nni_path, "--to", "sweeplab")
    assert back.returncode == 0 and back.stdout.startswith("version: 1")
    assert sweeplab("space", "check", nni_path).returncode == 0


def test_usage_errors_exit_2() -> None:
    assert sweeplab("space", "sample").returncode == 2
    assert sweeplab("space", "bogus").returncode == 2
