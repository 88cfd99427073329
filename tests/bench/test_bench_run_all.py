"""bench/run_all.py (``make bench``): runs the chosen benchmarks and writes their RESULT
lines, each after its command, under a header naming the commit and the machine."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import load_bench, run_bench


def test_the_results_file_holds_each_command_and_its_result(tmp_path: Path) -> None:
    out = tmp_path / "results.txt"
    proc = run_bench("run_all", "--quick", "--only", "follow", "--out", str(out),
                     timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = out.read_text().splitlines()
    assert lines[0] == "# Sweeplab benchmark results (smoke sizes, --quick)"
    assert lines[1].startswith("# commit: ") and lines[2].startswith("# machine: ")
    assert " cores (" in lines[2] and "load average" in lines[2]
    assert lines[3].startswith("# date: ")
    heading = next(line for line in lines if line.startswith("## "))
    assert heading.startswith("## follow: .venv/bin/python bench/follow.py --quick  (at ")
    assert lines[lines.index(heading) + 1].startswith("RESULT running=16 full_ms_500=")


def test_every_benchmark_script_is_run_by_make_bench() -> None:
    """A new script under bench/ must be added to run_all (or be one that is not a
    benchmark of the document: the soak test, the runner itself)."""
    run_all = load_bench("run_all")
    scripts = {bench.args[0] for bench in run_all.BENCHES}
    here = Path(run_all.__file__).parent
    found = {f"bench/{path.name}" for path in here.glob("*.py")}
    assert found - scripts == {"bench/run_all.py", "bench/soak.py"}
