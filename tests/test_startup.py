"""A command loads what it needs when it runs: ``sweeplab --help`` and the commands that
only read the database load neither the searchers (hyperopt, scipy), nor sklearn, nor
SSH (paramiko), nor Qt. Each command runs in a fresh interpreter, which then lists the
modules it imported."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import build_parser
from app.commands.parsers import Handler
from app.store.store import Store
from installers.bundle_config import HIDDEN_IMPORTS
from tests.helpers import store_experiment

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("hyperopt", "scipy", "sklearn", "paramiko", "PySide6", "shiboken6", "pyqtgraph")
"""Packages no command below may load (each costs a large part of a second to import)."""

LIST_MODULES = """
import sys
from app.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:  # --help
    status = exc.code
print("MODULES", *sorted(sys.modules), flush=True)
sys.exit(status)
"""


def imported(home: Path, *args: str) -> set[str]:
    """The top-level packages ``sweeplab ARGS`` imported; fails unless it exited 0."""
    return {name.split(".")[0] for name in modules(home, *args)}


def modules(home: Path, *args: str) -> set[str]:
    """Every module ``sweeplab ARGS`` imported; fails unless it exited 0."""
    env = {**os.environ, "SWEEPLAB_HOME": str(home)}
    env.pop("SWEEPLAB_DB", None)
    proc = subprocess.run([sys.executable, "-c", LIST_MODULES, *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite database holding one stored experiment named ``exp`` with a trial."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        experiment = store_experiment(store, tmp_path, "print('hi')\n")
        store.create_trial(experiment, {"x": 0.5})
    return url


def test_help_loads_no_searcher_ssh_or_qt(tmp_path: Path) -> None:
    loaded = imported(tmp_path, "--help")
    assert sorted(loaded & set(HEAVY)) == []
    assert "sqlalchemy" not in loaded  # parsing needs no database either


def test_help_loads_no_engine_packages_yaml_or_rich(tmp_path: Path) -> None:
    """The parser offers the searchers and space formats by name (``app.engine.choices``):
    building it loads neither the searcher nor the space package (with YAML), nor the
    terminal's table and colour library."""
    loaded = modules(tmp_path, "--help")
    unwanted = ("app.engine.search", "app.engine.space", "app.engine.experiment", "yaml", "rich")
    assert sorted(name for name in unwanted if name in loaded) == []


@pytest.mark.parametrize("command", [("ls",), ("show", "exp"), ("export", "exp")])
def test_reading_commands_load_no_searcher_ssh_or_qt(tmp_path: Path, database: str,
                                                      command: tuple[str, ...]) -> None:
    loaded = imported(tmp_path, *command, "--db", database)
    if command != ("ls",):  # ls reads a current SQLite file without it (below)
        assert "sqlalchemy" in loaded  # it did read the database
    assert sorted(loaded & set(HEAVY)) == []


LIGHT_LS_UNWANTED = ("sqlalchemy", "alembic", "app.store.store", "app.store.models",
                     "app.store.types", "app.store.connect", "app.store.migrate")
"""What ``sweeplab ls`` of a SQLite file at the newest schema must not import:
SQLAlchemy alone costs ~0.3 s of CPU, the ORM and the store's modules ~0.2 s more."""


def test_ls_of_a_current_sqlite_database_loads_no_sqlalchemy(tmp_path: Path,
                                                            database: str) -> None:
    """``ls`` reads a SQLite file at the newest schema with :mod:`sqlite3`
    (:mod:`app.store.listing`), not through the Store."""
    loaded = modules(tmp_path, "ls", "--db", database)
    assert "app.store.listing" in loaded
    assert [name for name in LIGHT_LS_UNWANTED if name in loaded] == []


@pytest.mark.parametrize("command", [("ls",), ("show", "exp")])
def test_reading_commands_load_no_migrations_or_executors(
        tmp_path: Path, database: str, command: tuple[str, ...]) -> None:
    """A database at the newest schema opens without alembic (~0.3 s), and a command that
    only reads loads none of the executors, the runner or the wiring that builds them."""
    loaded = modules(tmp_path, *command, "--db", database)
    assert ("app.store.store" in loaded) == (command != ("ls",))
    unwanted = ("alembic", "app.application.wiring", "app.remote.local", "app.engine.runner",
                "yaml", "rich.progress")  # definitions come from the database as JSON
    assert sorted(name for name in unwanted if name in loaded) == []


def handlers(parser: argparse.ArgumentParser) -> Iterator[Handler]:
    """Every lazily named handler of ``parser`` and its subcommands."""
    handler = parser.get_default("handler")
    if isinstance(handler, Handler):
        yield handler
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from handlers(sub)


def test_every_handler_exists_and_the_bundle_keeps_its_module() -> None:
    """A handler is imported by name when its command runs: the name must be right, and
    PyInstaller, which cannot see such an import, must be told to keep the module."""
    found = list(handlers(build_parser()))
    assert len(found) == 21  # space 3, run 3, experiments 4, servers 6, clusters 5
    for handler in found:
        module = importlib.import_module(f"app.commands.{handler.module}")
        assert callable(getattr(module, handler.function)), handler
        assert module.__name__ in HIDDEN_IMPORTS, handler


FREEZE = """
import gc, sys
from app.cli import main
status = main({argv})
print("FROZEN", gc.get_freeze_count(), gc.isenabled(), flush=True)
sys.exit(status)
"""


@pytest.mark.parametrize("as_program", [True, False])
def test_the_program_freezes_its_modules_for_the_collector(tmp_path: Path, database: str,
                                                           as_program: bool) -> None:
    """Run as ``sweeplab`` (no argv given), the objects its imports made are frozen, so
    that neither the collections while it runs nor the one at exit walk them again; the
    collector is on for the command itself. Called with arguments (a test, a script),
    the caller's collector is left as it was."""
    argv = ["ls", "--db", database]
    code = FREEZE.format(argv="None" if as_program else repr(argv))
    proc = subprocess.run([sys.executable, "-c", code, *(argv if as_program else [])],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
                          env={**os.environ, "SWEEPLAB_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    frozen, enabled = proc.stdout.split("FROZEN ")[1].split()
    assert enabled == "True"
    if as_program:
        assert int(frozen) > 20_000  # the engine, Rich: ~35,000 objects (no SQLAlchemy)
    else:
        assert int(frozen) == 0


FIRST_PAINT = """
import gc, sys
from app.cli import main
from devtools.app_hook import watch_application

at_paint = []
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info))


def watch(app):  # on the program's own QApplication, once it made it
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QMainWindow

    class Watch(QObject):
        def eventFilter(self, watched, event):
            if (not at_paint and event.type() == QEvent.Type.Paint
                    and isinstance(watched, QMainWindow) and watched.isVisible()):
                at_paint.append(sorted(sys.modules))
                print("COLLECTIONS_AT_PAINT", len(collections), flush=True)
            return False

    app.sweeplab_watch = Watch()
    app.installEventFilter(app.sweeplab_watch)


watch_application(watch)  # imports nothing of the program before it does
sys.argv = ["sweeplab", "gui", "--smoke"]
status = main()  # as the program
print("AT_PAINT", *(at_paint[0] if at_paint else ["-"]), flush=True)
print("AT_END", *sorted(sys.modules), flush=True)
sys.exit(status)
"""


def test_the_window_paints_before_charts_numpy_and_ssh_load(tmp_path: Path) -> None:
    """``sweeplab gui`` paints its window before it loads pyqtgraph, numpy and the SSH stack
    (paramiko, keyring): the tabs that need them are made after the first paint. The
    window is then filled (``--smoke`` exits 0 only then): they did load, in the end.
    What it loads until the paint (the store, Qt, the window) it loads as a command its
    modules, with the collector off, then frozen (~170 more collections, ~70 ms, before
    the paint otherwise)."""
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("SWEEPLAB_DB", None)
    proc = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {line.split()[0]: set(line.split()[1:]) for line in proc.stdout.splitlines()
             if line.startswith(("AT_PAINT ", "AT_END ", "COLLECTIONS_AT_PAINT "))}
    (collected,) = lines["COLLECTIONS_AT_PAINT"]
    assert int(collected) < 150  # ~70; ~240 with the collector on while they load
    at_paint = {name.split(".")[0] for name in lines["AT_PAINT"]}
    assert "PySide6" in at_paint and "app.views.main_window" in lines["AT_PAINT"]
    heavy = ("pyqtgraph", "numpy", "paramiko", "keyring", "cryptography", "nacl", "scipy",
             "hyperopt", "sklearn")
    assert sorted(at_paint & set(heavy)) == []
    assert {"app.views.trials.panel", "app.views.charts.panel", "app.views.pbt.panel",
            "pyqtgraph", "numpy"} <= lines["AT_END"]
