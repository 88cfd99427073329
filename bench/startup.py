"""Start-up time of the ``sweeplab`` command, against a bare ``python -c pass``.

Each command is started ``--runs`` times, in turn with the others, as a new process
with this interpreter (what ``sweeplab`` runs); its wall time from start to exit is
taken, and its CPU time (user + system: steadier than wall time on a busy machine).
The commands:

- ``python -c pass``: the baseline, a bare interpreter start;
- ``python -m app --help``: build every parser, print the help;
- ``python -m app ls --db sqlite:///...``: list a small database (3 experiments of 20
  trials, made once before the timing), read without SQLAlchemy
  (:mod:`app.store.listing`);
- the same ``ls`` through the Store (the URL with ``?timeout=10``, an option the light
  reader leaves to the Store): what ``ls`` of PostgreSQL or of a file to upgrade costs;
- ``python -m app gui --smoke`` (Qt offscreen; ``--no-gui`` leaves it out): the time
  to the window's first paint as the program prints it, since the process started, and
  the CPU time it used until then; then the same until the window is filled (every tab
  made, the demo shown and its trials read). The smoke run makes a NEW database (the
  schema's migrations run before the paint);
- ``python -m app gui --db <the small database>`` (offscreen; ``--no-gui`` leaves it
  out): the same two times on an EXISTING database, a user's common case, taken by a
  driver that watches the program's window once the program made its application
  (:data:`GUI_DRIVER`, which imports nothing before the program does; Qt's settings go
  to a temporary folder);
- ``sweeplab stop`` of a running ``sweeplab run`` of ``examples/quadratic`` (``--stops``
  times, 3 by default; ``--stops 0`` leaves it out): how long ``stop`` took, and how long
  after the run logged that it saw the stop it returned.

Bytecode is cached, as in an installed Sweeplab: the commands run with their own
``PYTHONPYCACHEPREFIX`` (a temporary folder; ``PYTHONDONTWRITEBYTECODE`` unset) after one
untimed start of each, so no timed start compiles a module.

    .venv/bin/python bench/startup.py [--runs 7] [--no-gui] [--stops 3]

Ends with one line ``RESULT baseline_ms=.. help_ms=.. help_ratio=.. ls_ms=.. ls_ratio=..
baseline_cpu_ms=.. help_cpu_ms=.. ls_cpu_ms=.. ls_cpu_ratio=.. ls_store_ms=..
ls_store_cpu_ms=.. [paint_ms=.. paint_cpu_ms=.. filled_ms=.. filled_cpu_ms=..
paint_existing_ms=.. paint_existing_cpu_ms=.. filled_existing_ms=..
filled_existing_cpu_ms=..]
[stop_ms=.. stop_after_answer_ms=..]``: medians over the runs; a ratio is the command's
median over the baseline's.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAINT = re.compile(r"first window shown after ([0-9.]+) s")
PAINT_CPU = re.compile(r"CPU time until then ([0-9.]+) s")
FILLED = re.compile(r"window filled after ([0-9.]+) s \(CPU ([0-9.]+) s\)")
NAN = float("nan")

GUI_DRIVER = """
import sys, time
from app.cli import main
from devtools.app_hook import watch_application


def report(what):
    from app.main import _elapsed

    print(f"{what} {_elapsed()[0]:.3f} s", flush=True)
    print(f"{what} CPU {time.process_time():.3f} s", flush=True)


def watch(app):
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QMainWindow

    class Watch(QObject):
        window = None

        def eventFilter(self, watched, event):
            if (self.window is None and event.type() == QEvent.Type.Paint
                    and isinstance(watched, QMainWindow) and watched.isVisible()):
                self.window = watched
                QTimer.singleShot(0, lambda: report("painted"))
                self.timer = QTimer()
                self.timer.setInterval(5)
                self.timer.timeout.connect(self.check)
                self.timer.start()
            return False

        def check(self):  # a window without is_filled is complete when made
            if (getattr(self.window, "is_filled", lambda: True)()
                    and not self.window.is_loading()):
                self.timer.stop()
                report("filled")
                self.window.close()

    app.sweeplab_watch = Watch()
    app.installEventFilter(app.sweeplab_watch)


watch_application(watch)  # imports nothing of the program before it does
sys.argv = ["sweeplab", *sys.argv[1:]]
sys.exit(main())  # as the program: no argv
"""
"""Runs ``sweeplab gui ARGS`` in-process and prints when its window was first painted
and when it was filled (seconds since the process started, and CPU seconds), then
closes it."""


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


def paint_ms(env: dict[str, str]) -> tuple[float, float, float, float]:
    """The first paint of ``sweeplab gui --smoke``, as it prints it, in milliseconds, and
    the CPU milliseconds the program used until then; the same until the window was
    filled (NaN from a program that does not print it)."""
    proc = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke"], capture_output=True,
                          text=True, cwd=ROOT, env={**env, "QT_QPA_PLATFORM": "offscreen"},
                          check=False)
    found, cpu = PAINT.search(proc.stdout), PAINT_CPU.search(proc.stdout)
    if proc.returncode != 0 or found is None or cpu is None:
        raise SystemExit(f"gui --smoke exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    filled = FILLED.search(proc.stdout)
    wall, used = (NAN, NAN) if filled is None else (float(filled.group(1)),
                                                    float(filled.group(2)))
    return (float(found.group(1)) * 1000, float(cpu.group(1)) * 1000, wall * 1000,
            used * 1000)


def existing_paint_ms(env: dict[str, str], url: str) -> tuple[float, float, float, float]:
    """``sweeplab gui --db url`` (an existing database): milliseconds from the process's
    start to the window's first paint, the CPU milliseconds until then, and the same
    until it was filled (see :data:`GUI_DRIVER`)."""
    with tempfile.TemporaryDirectory() as config:
        proc = subprocess.run([sys.executable, "-c", GUI_DRIVER, "gui", "--db", url],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              env={**env, "QT_QPA_PLATFORM": "offscreen",
                                   "XDG_CONFIG_HOME": config})
    marks = dict(re.findall(r"^(painted|filled|painted CPU|filled CPU) ([0-9.]+) s$",
                            proc.stdout, re.M))
    if proc.returncode != 0 or len(marks) != 4:
        raise SystemExit(f"gui --db exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return tuple(float(marks[key]) * 1000  # type: ignore[return-value]
                 for key in ("painted", "painted CPU", "filled", "filled CPU"))


def stop_ms(env: dict[str, str], folder: Path) -> tuple[float, float]:
    """``sweeplab stop`` of a running ``sweeplab run`` (one trial at a time, 0.05 s
    epochs): milliseconds from its start to its exit, and from the run's logged answer
    (:data:`~app.engine.orders.STOP_SEEN`) to its exit."""
    from app.engine.docio import dump_text, load_file
    from app.engine.orders import STOP_SEEN
    from app.engine.trial import TrialState
    from app.store.store import Store

    code = folder / "quadratic"
    if not code.exists():
        shutil.copytree(ROOT / "examples" / "quadratic", code)
        doc = load_file(code / "experiment.yaml")
        doc["limits"].update(max_trials=2, max_parallel=1, max_epochs=10_000)
        doc["env"] = {"QUADRATIC_EPOCH_SECONDS": "0.05"}
        (code / "experiment.yaml").write_text(dump_text(doc))
    url = f"sqlite:///{folder / f'stop-{time.monotonic_ns()}.sqlite'}"
    run = subprocess.Popen([sys.executable, "-m", "app", "run", str(code / "experiment.yaml"),
                            "--db", url], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for the run to have a trial running
            if run.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sweeplab run exited {run.returncode} or ran no trial")
            if Path(url.removeprefix("sqlite:///")).exists():
                with Store(url) as store:
                    names = [e for e in store.list_experiments() if e.name == "quadratic-demo"]
                    if names and store.list_trials(names[0].id, (TrialState.RUNNING,)):
                        break
            time.sleep(0.2)
        wall, _cpu = wall_ms([sys.executable, "-m", "app", "stop", "quadratic-demo", "--db",
                              url], env)
        returned = datetime.now(UTC)
        with Store(url) as store:
            experiment = store.get_experiment("quadratic-demo")
            answers = [e.time for e in store.list_events(experiment.id)
                       if e.message == STOP_SEEN]
        if not answers:
            raise SystemExit(f"sweeplab stop returned after {wall:.0f} ms, unanswered")
        return wall, (returned - answers[0]).total_seconds() * 1000
    finally:
        run.wait(timeout=120)


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
    parser.add_argument("--stops", type=int, default=3,
                        help="sweeplab stop of a running sweeplab run, this many times")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'db.sqlite'}"
        small_database(url)
        env = {**os.environ, "SWEEPLAB_HOME": folder,
               "PYTHONPYCACHEPREFIX": str(Path(folder) / "pycache")}
        env.pop("SWEEPLAB_DB", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "baseline": [sys.executable, "-c", "pass"],
            "help": [sys.executable, "-m", "app", "--help"],
            "ls": [sys.executable, "-m", "app", "ls", "--db", url],
            # a URL with an option is left to the Store (as PostgreSQL or an upgrade is)
            "ls_store": [sys.executable, "-m", "app", "ls", "--db", f"{url}?timeout=10"],
        }
        for command in commands.values():  # untimed: writes the bytecode caches
            wall_ms(command, env)
        if not args.no_gui:
            paint_ms(env)
            existing_paint_ms(env, url)
        times: dict[str, list[float]] = {key: [] for key in commands}
        cpus: dict[str, list[float]] = {key: [] for key in commands}
        paints: list[tuple[float, float, float, float]] = []
        existing: list[tuple[float, float, float, float]] = []
        for _ in range(args.runs):
            for key, command in commands.items():
                wall, used = wall_ms(command, env)
                times[key].append(wall)
                cpus[key].append(used)
            if not args.no_gui:
                paints.append(paint_ms(env))
                existing.append(existing_paint_ms(env, url))
        stops = [stop_ms(env, Path(folder)) for _ in range(args.stops)]
    medians = {key: statistics.median(values) for key, values in times.items()}
    cpu = {key: statistics.median(values) for key, values in cpus.items()}
    base = medians["baseline"]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after the run), "
          f"{os.cpu_count()} CPUs; bytecode cached")
    print(f"{'command':<28} {'median ms':>10} {'min ms':>8} {'x baseline':>11} "
          f"{'CPU ms':>8} {'CPU x baseline':>15}")
    labels = {"baseline": "python -c pass", "help": "sweeplab --help", "ls": "sweeplab ls",
              "ls_store": "sweeplab ls via the Store"}
    for key, label in labels.items():
        print(f"{label:<28} {medians[key]:>10.0f} {min(times[key]):>8.0f} "
              f"{medians[key] / base:>11.1f} {cpu[key]:>8.0f} "
              f"{cpu[key] / cpu['baseline']:>15.1f}")
    result = (f"RESULT baseline_ms={base:.0f} help_ms={medians['help']:.0f} "
              f"help_ratio={medians['help'] / base:.1f} ls_ms={medians['ls']:.0f} "
              f"ls_ratio={medians['ls'] / base:.1f} baseline_cpu_ms={cpu['baseline']:.0f} "
              f"help_cpu_ms={cpu['help']:.0f} ls_cpu_ms={cpu['ls']:.0f} "
              f"ls_cpu_ratio={cpu['ls'] / cpu['baseline']:.1f}")
    result += f" ls_store_ms={medians['ls_store']:.0f} ls_store_cpu_ms={cpu['ls_store']:.0f}"
    for runs, label, key in ((paints, "gui --smoke (new db)", ""),
                             (existing, "gui, existing db", "_existing")):
        if not runs:
            continue
        paint, paint_cpu, filled, filled_cpu = (statistics.median(run[i] for run in runs)
                                                for i in range(4))
        print(f"{label + ', first paint':<28} {paint:>10.0f} "
              f"{min(run[0] for run in runs):>8.0f} {'':>11} {paint_cpu:>8.0f}")
        print(f"{label + ', filled':<28} {filled:>10.0f} "
              f"{min(run[2] for run in runs):>8.0f} {'':>11} {filled_cpu:>8.0f}")
        result += (f" paint{key}_ms={paint:.0f} paint{key}_cpu_ms={paint_cpu:.0f}"
                   f" filled{key}_ms={filled:.0f} filled{key}_cpu_ms={filled_cpu:.0f}")
    if stops:
        stop = statistics.median(wall for wall, _ in stops)
        after = statistics.median(late for _, late in stops)
        print(f"{'sweeplab stop (running run)':<28} {stop:>10.0f} "
              f"{min(wall for wall, _ in stops):>8.0f}   returned {after:.0f} ms (median) "
              f"after the run answered (max {max(late for _, late in stops):.0f})")
        result += f" stop_ms={stop:.0f} stop_after_answer_ms={after:.0f}"
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
