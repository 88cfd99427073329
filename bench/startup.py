"""Start-up time of the ``sweeplab`` command, against a bare ``python -c pass``.

Each command is started ``--runs`` times, in turn with the others, as a new process
with this interpreter (what ``sweeplab`` runs); its wall time from start to exit is
taken. The commands:

- ``python -c pass``: the baseline, a bare interpreter start;
- ``python -m app --help``: build every parser, print the help;
- ``python -m app ls --db sqlite:///...``: list a small database (3 experiments of 20
  trials, made once before the timing);
- ``python -m app gui --smoke`` (Qt offscreen; ``--no-gui`` leaves it out): the time
  to the window's first paint as the program prints it, since the process started.

    .venv/bin/python bench/startup.py [--runs 7] [--no-gui]

Ends with one line ``RESULT baseline_ms=.. help_ms=.. help_ratio=.. ls_ms=.. ls_ratio=..
[paint_ms=..]``: medians over the runs; a ratio is the command's median over the
baseline's.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAINT = re.compile(r"first window shown after ([0-9.]+) s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall_ms(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Milliseconds from start to exit of ``argv``, and the CPU milliseconds it used
    (user + system: steadier than wall time on a busy machine); fails on a non-zero
    exit."""
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return elapsed, (_children_cpu() - cpu) * 1000


def paint_ms(env: dict[str, str]) -> float:
    """The first paint of ``sweeplab gui --smoke``, as it prints it, in milliseconds."""
    proc = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke"], capture_output=True,
                          text=True, cwd=ROOT, env={**env, "QT_QPA_PLATFORM": "offscreen"},
                          check=False)
    found = PAINT.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"gui --smoke exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return float(found.group(1)) * 1000


def small_database(url: str) -> None:
    """Three finished experiments of 20 trials each in ``url``, defined as
    ``examples/quadratic`` is."""
    from app.engine.experiment import load_experiment
    from app.engine.trial import TrialState
    from app.store.store import Store

    definition = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml").to_dict()
    with Store(url) as store:
        for number in range(3):
            experiment = store.create_experiment(f"sweep-{number}", definition).id
            for index in range(20):
                trial = store.create_trial(experiment, {"lr": 0.001 * (index + 1)})
                store.update_trial(trial.id, state=TrialState.RUNNING)
                store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=1.0 / (index + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="starts of each command")
    parser.add_argument("--no-gui", action="store_true", help="leave out gui --smoke")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'db.sqlite'}"
        small_database(url)
        env = {**os.environ, "SWEEPLAB_HOME": folder}
        env.pop("SWEEPLAB_DB", None)
        commands = {
            "baseline": [sys.executable, "-c", "pass"],
            "help": [sys.executable, "-m", "app", "--help"],
            "ls": [sys.executable, "-m", "app", "ls", "--db", url],
        }
        times: dict[str, list[float]] = {key: [] for key in commands}
        cpus: dict[str, list[float]] = {key: [] for key in commands}
        paints: list[float] = []
        for _ in range(args.runs):
            for key, command in commands.items():
                wall, cpu = wall_ms(command, env)
                times[key].append(wall)
                cpus[key].append(cpu)
            if not args.no_gui:
                paints.append(paint_ms(env))
    medians = {key: statistics.median(values) for key, values in times.items()}
    cpu = {key: statistics.median(values) for key, values in cpus.items()}
    base = medians["baseline"]
    print(f"{'command':<28} {'median ms':>10} {'min ms':>8} {'x baseline':>11} "
          f"{'CPU ms':>8} {'CPU x baseline':>15}")
    labels = {"baseline": "python -c pass", "help": "sweeplab --help", "ls": "sweeplab ls"}
    for key, label in labels.items():
        print(f"{label:<28} {medians[key]:>10.0f} {min(times[key]):>8.0f} "
              f"{medians[key] / base:>11.1f} {cpu[key]:>8.0f} "
              f"{cpu[key] / cpu['baseline']:>15.1f}")
    result = (f"RESULT baseline_ms={base:.0f} help_ms={medians['help']:.0f} "
              f"help_ratio={medians['help'] / base:.1f} ls_ms={medians['ls']:.0f} "
              f"ls_ratio={medians['ls'] / base:.1f} baseline_cpu_ms={cpu['baseline']:.0f} "
              f"help_cpu_ms={cpu['help']:.0f} ls_cpu_ms={cpu['ls']:.0f} "
              f"ls_cpu_ratio={cpu['ls'] / cpu['baseline']:.1f}")
    if paints:
        paint = statistics.median(paints)
        print(f"{'gui --smoke, first paint':<28} {paint:>10.0f} {min(paints):>8.0f}")
        result += f" paint_ms={paint:.0f}"
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
