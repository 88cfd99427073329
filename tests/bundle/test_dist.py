"""The built bundle (``make dist``) starts offscreen with ``--smoke``, away from the checkout.

Marked ``bundle``: ``make test`` deselects these three (its summary counts them as
deselected and says where they run) and ``make test-dist`` runs them; a plain ``pytest``
runs them too. Builds ``dist/sweeplab`` with ``make dist`` unless the bundle there is
newer than every file it is made from. ``$SWEEPLAB_TEST_BUNDLE`` names a bundle folder
to test as it is: ``make test-dist`` builds first and sets it, so a file edited meanwhile
(someone else's) does not start a second build.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "sweeplab"
BINARY = BUNDLE / "sweeplab"
BUNDLE_ENV = "SWEEPLAB_TEST_BUNDLE"
SOURCES = ("app", "installers", "resources", "examples/quadratic", "pyproject.toml")
TIMING = re.compile(r"^smoke: first window shown after (\d+\.\d+) s \(since (.+)\)$", re.M)
BUILD_TIMEOUT = 1200
RUN_TIMEOUT = 120

pytestmark = [pytest.mark.slow, pytest.mark.bundle,
              pytest.mark.timeout(BUILD_TIMEOUT + 3 * RUN_TIMEOUT)]


def newest_source() -> float:
    """The latest modification time of what the bundle is built from."""
    times = []
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                                and "__pycache__" not in p.parts]
        times += [file.stat().st_mtime for file in files]
    return max(times)


@pytest.fixture(scope="module")
def bundle() -> Iterator[Path]:
    """``$SWEEPLAB_TEST_BUNDLE``, else ``dist/sweeplab`` built now when missing or stale."""
    given = os.environ.get(BUNDLE_ENV)
    if given:
        folder = ROOT / given  # relative to the checkout; an absolute path stays as it is
        assert os.access(folder / "sweeplab", os.X_OK), \
            f"{BUNDLE_ENV}={given}: no executable {folder / 'sweeplab'}"
        yield folder
        return
    if not BINARY.is_file() or BINARY.stat().st_mtime < newest_source():
        result = subprocess.run(["make", "dist"], cwd=ROOT, capture_output=True, text=True,
                                timeout=BUILD_TIMEOUT, check=False)
        assert result.returncode == 0, f"make dist failed:\n{result.stdout[-3000:]}\n" \
                                       f"{result.stderr[-3000:]}"
    assert os.access(BINARY, os.X_OK), f"{BINARY} is not an executable"
    yield BUNDLE


def bundle_env(tmp_path: Path) -> dict[str, str]:
    """Offscreen, with nothing that points into the checkout or its virtual environment."""
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "SWEEPLAB_"))}
    env.update(QT_QPA_PLATFORM="offscreen", SWEEPLAB_HOME=str(tmp_path / "home"),
               TMPDIR=str(tmp_path / "tmp"))
    return env


def test_the_bundle_opens_the_window_and_exits_0(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(bundle / "sweeplab"), "--smoke"], cwd=tmp_path,
                            env=bundle_env(tmp_path), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    match = TIMING.search(result.stdout)
    assert match, f"no timing line in stdout: {result.stdout!r}"
    assert 0 < float(match.group(1)) < RUN_TIMEOUT
    assert list((tmp_path / "home").iterdir()) == []


def test_the_bundled_command_migrates_a_new_database(bundle: Path, tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = subprocess.run([str(bundle / "sweeplab"), "ls", "--db", f"sqlite:///{db}"],
                            cwd=tmp_path, env=bundle_env(tmp_path), capture_output=True,
                            text=True, timeout=RUN_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert db.is_file()  # alembic found its migration scripts inside the bundle


def test_the_bundle_leaves_out_what_the_spec_excludes(bundle: Path) -> None:
    inside = bundle / "_internal"
    assert (inside / "app" / "sdk" / "sweeplab.py").is_file()
    assert (inside / "examples" / "quadratic" / "experiment.yaml").is_file()
    assert not list(inside.rglob("libqgtk3*")), "the GTK 3 theme plugin was bundled"
    assert not list(inside.glob("PySide6/QtQml*")), "PySide6.QtQml was bundled"
    assert not (inside / "scipy" / "io").exists(), "scipy.io was bundled"
    translations = {p.name for p in (inside / "PySide6" / "Qt" / "translations").iterdir()}
    assert translations and all(name.startswith("qtbase_") for name in translations)
