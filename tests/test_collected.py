"""What ``make test`` runs: every test file under tests/, none hidden by pytest's defaults.

pytest never enters a folder matching ``norecursedirs``, whose default holds ``dist`` and
``build``: the bundle tests once lived in ``tests/dist`` and ``make test`` never ran them.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def test_no_folder_of_tests_is_one_pytest_skips(pytestconfig: pytest.Config) -> None:
    patterns = pytestconfig.getini("norecursedirs")
    assert pytestconfig.getini("testpaths") == ["tests"]
    hidden = sorted(
        str(folder.relative_to(ROOT))
        for folder in {file.parent for file in TESTS.rglob("test_*.py")}
        for part in folder.relative_to(ROOT).parts
        if any(fnmatch.fnmatch(part, pattern) for pattern in patterns))
    assert hidden == [], f"pytest does not collect these folders (norecursedirs): {hidden}"


def test_make_test_leaves_out_only_the_bundle_tests_and_says_so() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\npytest:", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"-m '([^']*)'", recipe) == ["not bundle"]
    assert "make test-dist runs them" in recipe
    marked = sorted(path.name for path in TESTS.rglob("test_*.py")
                    if path != Path(__file__).resolve()
                    and "pytest.mark.bundle" in path.read_text(encoding="utf-8"))
    assert marked == ["test_dist.py"]


def test_no_two_test_files_share_a_name_pytest_would_mix_up() -> None:
    """Test folders are not packages, so pytest imports each file by its bare name: two
    ``test_gpu_check.py`` in two folders made the second an import error in CI."""
    seen: dict[str, list[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        if not (path.parent / "__init__.py").exists():
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
