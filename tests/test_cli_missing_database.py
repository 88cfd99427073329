"""A command that needs what is stored never makes a database: a mistyped ``--db`` or
``$SWEEPLAB_DB`` is named as missing (exit 2) instead of listing nothing from a new
empty file; the default file, which the first run makes, lists no experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import fresh_cli

NEEDS_THE_STORE = [("show", "demo"), ("export", "demo"), ("stop", "demo"),
                   ("resume", "demo"), ("requeue-failed", "demo"), ("servers", "show", "gpu1"),
                   ("servers", "test", "gpu1"), ("servers", "rm", "gpu1"),
                   ("clusters", "show", "hpc"), ("clusters", "test", "hpc"),
                   ("clusters", "rm", "hpc")]


LISTINGS = [("ls",), ("servers", "ls"), ("clusters", "ls")]


@pytest.mark.parametrize("command", [*LISTINGS, *NEEDS_THE_STORE], ids=" ".join)
def test_a_mistyped_db_is_named_and_not_made(
        command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    cli = fresh_cli(tmp_path / "home", monkeypatch, capsys)
    typo = tmp_path / "lab" / "shraed.db"
    code, out, err = cli(*command, "--db", f"sqlite:///{typo}")
    assert code == 2, out + err
    assert f"error: no database at {typo} (from --db): nothing was stored there yet" in err
    assert "is the path right?" in err
    assert not typo.exists() and not typo.parent.exists()


def test_a_mistyped_sweeplab_db_says_where_it_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    cli = fresh_cli(tmp_path / "home", monkeypatch, capsys)
    typo = tmp_path / "nowhere.db"
    monkeypatch.setenv("SWEEPLAB_DB", str(typo))
    code, _, err = cli("show", "demo")
    assert code == 2
    assert f"no database at {typo} (from $SWEEPLAB_DB)" in err
    assert not typo.exists()


def test_before_the_first_run_ls_lists_nothing_and_the_rest_say_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = fresh_cli(home, monkeypatch, capsys)
    code, out, err = cli("ls")
    assert code == 0, err
    assert out == f"no experiments in sqlite:///{home / 'sweeplab.db'} yet\n"
    for what in ("servers", "clusters"):
        code, out, err = cli(what, "ls")
        assert code == 0, err
        assert out.startswith(f"no {what} saved yet; add one with `sweeplab {what} add`")
    code, _, err = cli("show", "demo")
    assert code == 2
    assert f"no database at {home / 'sweeplab.db'}: nothing was stored there yet " \
           "(`sweeplab run FILE` or the app makes it)" in err
    assert not (home / "sweeplab.db").exists()
