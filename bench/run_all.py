"""Run every benchmark and write their RESULT lines to one file: ``make bench``.

Each benchmark runs as its own process with the options docs/PERFORMANCE.md quotes,
one after the other; its output goes to the terminal as it comes, and its RESULT
lines (a script may print several: the main one last) go to
``bench/results/<date>.txt``, under a header naming the commit, the machine and the
date, each after the exact command that printed it. The document quotes that file.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--skip NAME ...] [--quick]
                                      [--seeds N] [--out PATH] [--list]

``--quick`` runs each benchmark's smoke size instead (minutes, not an hour); the
file then says so. ``--seeds N`` runs the search-efficiency benchmarks over N seeds
instead of their 20 (the commands in the file show it). A benchmark that fails is
named in the file and the exit status is 1; the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Bench:
    """One benchmark: its name, its full command's arguments and its smoke ones."""

    name: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    minutes: str
    """How long the full run took on the 2-core development machine."""


BENCHES = (
    Bench("suggest", ("bench/suggest.py",), ("bench/suggest.py", "--quick"), "1"),
    Bench("ingest", ("bench/ingest.py",), ("bench/ingest.py", "--quick"), "1"),
    Bench("dispatch", ("bench/dispatch.py", "--repeats", "3", "--profile"),
          ("bench/dispatch.py", "--quick"), "2"),
    Bench("dispatch_ssh", ("bench/dispatch_ssh.py",), ("bench/dispatch_ssh.py", "--quick"),
          "3"),
    Bench("dispatch_ssh_heavy_bashrc", ("bench/dispatch_ssh.py", "--bashrc", "own"),
          ("bench/dispatch_ssh.py", "--quick", "--bashrc", "own"), "3"),
    Bench("dispatch_slurm", ("bench/dispatch_slurm.py", "--repeats", "3"),
          ("bench/dispatch_slurm.py", "--quick"), "3"),
    Bench("search_efficiency",
          ("bench/search_efficiency.py", "--plot", "docs/search_efficiency.png",
           "--ranking", "300", "--epoch-cost"),
          ("bench/search_efficiency.py", "--quick"), "10-15"),
    *(Bench(f"random_start_{start}_seeds_{first}",
            ("bench/search_efficiency.py", "--strategies", "asha+tpe", "--first-seed",
             str(first), "--random-start", str(start)),
            ("bench/search_efficiency.py", "--quick", "--strategies", "asha+tpe",
             "--first-seed", str(first), "--random-start", str(start)), "3")
      for first in (0, 20) for start in (3, 5, 7, 10, 20)),
    *(Bench(f"optuna_random_start_{start}",
            ("bench/search_efficiency.py", "--strategies", "optuna",
             "--optuna-random-start", str(start)),
            ("bench/search_efficiency.py", "--quick", "--strategies", "optuna",
             "--optuna-random-start", str(start)), "3")
      for start in (5, 10)),
    Bench("pbt", ("bench/pbt.py", "--plot", "docs/pbt_schedule.png"),
          ("bench/pbt.py", "--quick"), "6"),
    Bench("gui_load", ("bench/gui_load.py",), ("bench/gui_load.py", "--quick"), "1"),
    Bench("gui_sort", ("bench/gui_sort.py",), ("bench/gui_sort.py", "--quick"), "1"),
    Bench("follow", ("bench/follow.py",), ("bench/follow.py", "--quick"), "1"),
    Bench("startup", ("bench/startup.py",), ("bench/startup.py", "--runs", "3"), "1"),
    Bench("slot_fill", ("bench/slot_fill.py",), ("bench/slot_fill.py", "--quick"), "3"),
    Bench("gui_load_store", ("bench/gui_load_store.py",),
          ("bench/gui_load_store.py", "--trials", "50", "--points", "20", "--sqlite-only"),
          "5"),
    Bench("monkey", ("bench/monkey.py",),
          ("bench/monkey.py", "--minutes", "0.05", "--seeds", "1"), "10"),
)


def commit() -> str:
    """The checked-out commit, ``+dirty`` when the tree has changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> str:
    """Cores, memory, CPU model, OS, Python and the load average now."""
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB, "
    except OSError:
        pass
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {memory}{platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; load average "
            f"{load} at the start")


def run(bench: Bench, quick: bool, seeds: int | None = None
        ) -> tuple[str, list[str], int, float]:
    """Run one benchmark, echoing its output; (command, RESULT lines, status, seconds)."""
    argv = [sys.executable, *(bench.quick if quick else bench.args)]
    if seeds is not None and not quick and argv[1] == "bench/search_efficiency.py":
        argv += ["--seeds", str(seeds)]
    shown = " ".join(shlex.quote(part) for part in [".venv/bin/python", *argv[1:]])
    print(f"\n=== {bench.name}: {shown}", flush=True)
    started = time.monotonic()
    results: list[str] = []
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("RESULT "):
                results.append(line.rstrip("\n"))
    return shown, results, proc.returncode, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and write the results file."""
    names = [bench.name for bench in BENCHES]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME",
                        help="run only these (see --list)")
    parser.add_argument("--skip", nargs="+", choices=names, metavar="NAME", default=[])
    parser.add_argument("--quick", action="store_true", help="each benchmark's smoke size")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds of the search-efficiency runs (default: theirs, 20)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the results file (default bench/results/<date>.txt)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.list:
        for bench in BENCHES:
            print(f"{bench.name:34} ~{bench.minutes} min  {' '.join(bench.args)}")
        return 0
    chosen = [b for b in BENCHES
              if (args.only is None or b.name in args.only) and b.name not in args.skip]
    now = dt.datetime.now(dt.UTC)
    out = args.out or RESULTS / f"{now:%Y-%m-%d}{'-quick' if args.quick else ''}.txt"
    header = [f"# Sweeplab benchmark results ({'smoke sizes, --quick' if args.quick else 'full'})",
              f"# commit: {commit()} at the start (each run below names its own)",
              f"# machine: {machine()}",
              f"# date: {now:%Y-%m-%d %H:%M} UTC",
              "# each RESULT line follows the command that printed it (from the repository root)"]
    lines = list(header)
    failed: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for bench in chosen:
        at = commit()  # the tree may change during an hour of benchmarks: say which ran
        shown, results, status, seconds = run(bench, args.quick, args.seeds)
        lines.append("")
        lines.append(f"## {bench.name}: {shown}  (at {at}, {seconds / 60:.1f} min"
                     f"{'' if status == 0 else f', FAILED with exit status {status}'})")
        lines.extend(results or ["(no RESULT line)"])
        if status != 0:
            failed.append(bench.name)
        # after each benchmark: what ran is kept even if a later one is interrupted
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
