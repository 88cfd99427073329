"""The layering of DESIGN.md: engine, remote, store and sdk run with Qt absent."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BLOCK_QT = """
import importlib.abc, sys
class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PySide6', 'pyqtgraph', 'shiboken6'}:
            raise ImportError(f'Qt is not installed here ({name})')
        return None
sys.meta_path.insert(0, NoQt())
import importlib
for module in MODULES:
    importlib.import_module(module)
print('imported', len(MODULES))
"""


def _modules() -> list[str]:
    names = ["app.cli"]
    for package in ("engine", "remote", "store", "sdk", "commands", "analysis"):
        path = ROOT / "app" / package
        names.append(f"app.{package}")
        for info in pkgutil.walk_packages([str(path)], prefix=f"app.{package}."):
            if ".migrations." not in info.name:
                names.append(info.name)
    return names


def test_non_view_layers_import_without_qt() -> None:
    modules = _modules()
    script = f"MODULES = {modules!r}\n{BLOCK_QT}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(modules)}" in result.stdout


def test_cli_space_commands_work_without_qt(tmp_path: Path) -> None:
    space = ROOT / "examples" / "quadratic" / "space.yaml"
    script = (f"MODULES = []\n{BLOCK_QT}\nfrom app.cli import main\n"
              f"sys.exit(main(['space', 'sample', {str(space)!r}, '-n', '2']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 3
