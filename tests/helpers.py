"""Test setup shared across the suite, so each test file says only what is its own.

- :func:`wait_until`: the one way a test waits on a condition (never a bare sleep);
- :func:`write_code`, :func:`experiment_doc`, :func:`gated_trial`, :func:`store_experiment`: an
  experiment over one number ``x`` whose trials a test can hold mid-way and let go
  through a gate file;
- :func:`running`: a stored experiment run through the CLI's and GUI's wiring, always
  cleaned up; :func:`app_process`: the app in a process of its own, likewise;
  :func:`trials_of`: an experiment's trials by its name;
- :func:`run_bench`, :func:`load_bench`, :func:`result_figures`,
  :func:`noop_outputs`: the benchmark scripts under ``bench/`` and their ``RESULT`` line.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from app.application.wiring import build_runner
from app.engine.experiment import experiment_from_dict
from app.engine.records import MetricSeries, TrialRecord
from app.engine.runner import Runner
from app.engine.trial import TrialState
from app.remote.pool import Pool
from app.store.store import Store

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

# One uniform number ``x`` in [0, 1]: the space of every experiment these helpers make.
SPACE_X: dict[str, Any] = {"version": 1, "space": [
    {"name": "x", "type": "number", "auto": True, "distribution": "uniform", "min": 0.0,
     "max": 1.0, "default": 0.5}]}


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails after ``timeout`` seconds with a message naming ``what`` was awaited, the
    timeout, and what the last check gave when that says more than ``False``.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            seen = "" if isinstance(result, bool) else f"; the last check gave {result!r}"
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what or predicate}{seen}")
        time.sleep(0.01)  # polling interval of the wait, not a synchronisation


def proc_state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc (``R``, ``S``, ``Z`` ...), None if it has none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2]


def write_code(root: Path, script: str, name: str = "train.py") -> Path:
    """Write ``script`` (dedented) as ``root/code/<name>``; returns the code folder."""
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / name).write_text(textwrap.dedent(script))
    return code


def experiment_doc(code: Path, **fields: Any) -> dict[str, Any]:
    """An experiment document named ``exp`` that runs ``{python} train.py`` in ``code``
    over :data:`SPACE_X` by random search (seed 1), minimising ``loss``; ``fields``
    replace its top-level entries (``limits``, ``hosts``, ``env`` ...)."""
    doc: dict[str, Any] = {
        "version": 1, "name": "exp", "code_dir": str(code), "command": "{python} train.py",
        "kpi": {"name": "loss", "goal": "min"}, "space": copy.deepcopy(SPACE_X),
        "algorithm": {"name": "random", "seed": 1},
    }
    doc.update(fields)
    return doc


def gated_trial(steps: int, hold_at: int = 1, pause: float = 0.0) -> str:
    """A trial script that reports ``loss = x + 1/step`` for steps 1 to ``steps`` and,
    after step ``hold_at``, waits until the file named by ``$GATE`` exists.

    A test holds its trials running mid-way with it, and lets them go on by creating
    the file. ``pause`` seconds pass after every step (to keep the trials running a
    little longer than their reports take).
    """
    after_step = f"\n    time.sleep({pause})" if pause else ""
    return f"""
import os, pathlib, time, sweeplab
x = sweeplab.param("x")
gate = pathlib.Path(os.environ["GATE"])
for step in range(1, {steps + 1}):
    sweeplab.report("loss", x + 1.0 / step, step=step)
    if step == {hold_at}:  # held here until the test creates the gate file
        while not gate.exists():
            time.sleep(0.01){after_step}
"""


def store_experiment(store: Store, root: Path, script: str, **fields: Any) -> int:
    """Write ``script`` as ``root/code/train.py`` and store, as the app would, the
    :func:`experiment_doc` that runs it with ``fields``; returns the experiment's id."""
    code = write_code(root, script)
    config = experiment_from_dict(experiment_doc(code, **fields), code)
    return store.create_experiment(config.name, config.to_dict()).id


def trials_of(store: Store, name: str, *states: TrialState) -> list[TrialRecord]:
    """The trials of experiment ``name`` (only those in ``states``, if any are given);
    none while it is not stored yet, as when the app's own process starts the run."""
    if not any(e.name == name for e in store.list_experiments()):
        return []
    return store.list_trials(store.get_experiment(name).id, list(states) or None)


@contextmanager
def running(store: Store, experiment_id: int, gate: Path | None = None,
            **options: Any) -> Iterator[tuple[Runner, Pool]]:
    """Build the runner of a stored experiment as the CLI and the GUI do (a fresh code
    snapshot; ``options`` go to :func:`~app.application.wiring.build_runner`) and start it.

    On leaving, a failed assertion included, it creates ``gate`` so no trial stays
    held, stops the runner, gives it 30 s to end and closes its pool: a failing test
    leaves no trial process behind.
    """
    runner, pool = build_runner(store, store.get_experiment(experiment_id),
                                fresh_snapshot=True, **options)
    runner.start()
    try:
        yield runner, pool
    finally:
        if gate is not None:
            gate.touch()
        runner.stop()
        runner.wait(30)
        pool.close()


_FOREGROUND_APP = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'app'; runpy.run_module('app', run_name='__main__', alter_sys=True)")
"""``python -m app`` with SIGINT handled as Python does when it starts with it at default."""


@contextmanager
def app_process(env: Mapping[str, str], *args: str | Path,
                **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``python -m app *args`` started from the repository root with ``env``, its output
    piped as text unless ``popen`` says otherwise; killed and reaped on leaving if it
    still runs, so a failing test leaves no app behind.

    It gets SIGINT as a terminal's foreground job does (Ctrl-C raises KeyboardInterrupt)
    even when the tests run with SIGINT ignored (``make test &``, ``nohup``)."""
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
                               "text": True, **popen}
    proc = subprocess.Popen([sys.executable, "-c", _FOREGROUND_APP, *map(str, args)],
                            cwd=ROOT, env=dict(env), **options)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_bench(name: str, *args: str, timeout: float,
              env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<name>.py`` with this interpreter from the repository root."""
    return subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=None if env is None else dict(env), check=False)


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported once, as module ``bench_<name>``.

    It is put in ``sys.modules`` before it runs because dataclasses look their module
    up there.
    """
    module_name = f"bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def noop_outputs(bench: ModuleType, cwd: Path) -> dict[str, str]:
    """What each no-op command of a dispatch benchmark (its ``NOOPS``) prints, by name."""
    return {name: subprocess.run(command, shell=True, capture_output=True, text=True,
                                 timeout=30, cwd=cwd, check=True).stdout
            for name, command in bench.NOOPS.items()}


def figures_of(line: str) -> dict[str, str]:
    """The ``key=value`` figures of a ``RESULT`` line, in their order."""
    pairs = (item.partition("=") for item in line.split()[1:])
    return {key: value for key, _, value in pairs}


def result_figures(stdout: str) -> dict[str, str]:
    """The figures of the one line of a benchmark's output that starts ``RESULT ``;
    fails unless there is exactly one such line."""
    found = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert len(found) == 1, f"expected one RESULT line, got {len(found)}: {found}"
    return figures_of(found[0])


CliRun = Callable[..., tuple[int, str, str]]
"""``run("servers", "ls")``: the command's exit code, stdout and stderr."""


def fresh_cli(home: Path, monkeypatch: Any, capsys: Any) -> CliRun:
    """:func:`in_process_cli` with its data in ``home`` (a fresh data directory) and no
    ``$SWEEPLAB_DB`` from the caller's environment."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(home))
    monkeypatch.delenv("SWEEPLAB_DB", raising=False)
    return in_process_cli(capsys)


def in_process_cli(capsys: Any) -> CliRun:
    """``sweeplab ARGS`` run by :func:`app.cli.main` in this process, its output taken
    from ``capsys`` (pytest's capture fixture)."""
    from app.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def metric_series(trial_id: int, name: str, steps: Iterable[int | None],
                  values: Iterable[float]) -> MetricSeries:
    """A :class:`MetricSeries` as the store reads one (read-only float64 arrays, a step
    None as NaN)."""
    import numpy as np

    step_array = np.array([math.nan if s is None else s for s in steps], dtype=np.float64)
    value_array = np.array(list(values), dtype=np.float64)
    step_array.flags.writeable = value_array.flags.writeable = False
    return MetricSeries(trial_id, name, step_array, value_array)


def series_lists(series: MetricSeries) -> tuple[list[int | None], list[float]]:
    """A series' steps (None for a point without one) and values, as plain lists."""
    return ([None if math.isnan(s) else int(s) for s in series.steps.tolist()],
            series.values.tolist())
