"""Issue 17.17: without a command ``sweeplab`` opens the app, and takes the app's options
there (``sweeplab --db URL``, ``--demo``, ``--smoke``); before a command, ``--db`` is
that command's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.store.store import Store
from tests.helpers import app_process, fresh_cli, store_experiment, wait_until

ROOT = Path(__file__).resolve().parent.parent


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "SWEEPLAB_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(home / "config")}
    env.pop("SWEEPLAB_DB", None)
    return env


def _names(url: str) -> list[str]:
    with Store(url) as store:
        return [experiment.name for experiment in store.list_experiments()]


def test_db_without_a_command_opens_the_app_on_that_database(tmp_path: Path) -> None:
    db = tmp_path / "lab" / "shared.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"
    with app_process(_env(tmp_path / "home"), "--db", url) as proc:
        # a new user's database gets the demo once the window opens on it
        wait_until(lambda: proc.poll() is not None or (db.exists() and
                                                       "quadratic-demo" in _names(url)),
                   timeout=60, what="the app to open on the database")
        assert proc.poll() is None, proc.communicate()[1]
    assert not (tmp_path / "home" / "sweeplab.db").exists()  # not the default database


def test_smoke_without_a_command_is_the_apps_start_up_check(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "--smoke"], capture_output=True,
                            text=True, cwd=ROOT, env=_env(tmp_path / "home"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "smoke: first window shown after" in result.stdout


def test_db_before_a_command_is_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    with Store(url) as store:
        store_experiment(store, tmp_path, "", name="before-the-command")
    cli = fresh_cli(tmp_path / "home", monkeypatch, capsys)
    code, out, err = cli("--db", url, "ls")
    assert code == 0, err
    assert "before-the-command" in out
    code, out, err = cli("--db", url, "ls", "--db", url)
    assert code == 0, err


@pytest.mark.parametrize(("args", "message"), [
    (["--smoke", "ls"], "--demo and --smoke open the app: give them without a command"),
    (["--db", "sqlite:///a.db", "space", "check", "x.yaml"],
     "'sweeplab space' uses no database: leave out --db"),
    (["--db", "sqlite:///a.db", "ls", "--db", "sqlite:///b.db"], "--db is given twice"),
])
def test_app_options_a_command_cannot_use_are_refused(
        args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    cli = fresh_cli(tmp_path / "home", monkeypatch, capsys)
    with pytest.raises(SystemExit) as exited:
        cli(*args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
