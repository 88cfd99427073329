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
    for package in ("engine", "remote", "store", "sdk", "commands", "application"):
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


# --- the layers contract names every part of app/ ------------------------------------

def _contracts() -> list[dict[str, object]]:
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as file:
        contracts: list[dict[str, object]] = tomllib.load(file)["tool"]["importlinter"][
            "contracts"]
    return contracts


def _layers_contract() -> dict[str, object]:
    layered = [contract for contract in _contracts() if contract["type"] == "layers"]
    assert len(layered) == 1, "one layers contract over the whole of app/"
    return layered[0]


def test_every_top_level_module_of_app_has_a_layer() -> None:
    """A new package or module directly under app/ cannot escape the layering: it must
    be given its place in the layers contract of pyproject.toml."""
    contract = _layers_contract()
    named: set[str] = set()
    for layer in contract["layers"]:  # type: ignore[attr-defined]
        named.update(part.strip() for part in layer.replace(":", "|").split("|"))
    present = {info.name for info in pkgutil.iter_modules([str(ROOT / "app")])}
    assert present - named == set(), "not placed in the layers contract"
    assert named - present == set(), "named in the layers contract but not in app/"
    assert contract["containers"] == ["app"] and contract.get("exhaustive") is True


def test_no_contract_over_app_layers_allows_indirect_imports() -> None:
    """The layers contract checks indirect imports too (import-linter's default), and
    front ends are kept off store and remote (directly: through the application layer
    is the point)."""
    assert "allow_indirect_imports" not in _layers_contract()
    fronts = [contract for contract in _contracts() if contract["type"] == "forbidden"
              and {"app.views", "app.commands"} <= set(contract["source_modules"])]  # type: ignore[call-overload]
    assert fronts and {"app.store", "app.remote"} <= set(fronts[0]["forbidden_modules"])  # type: ignore[call-overload]


def test_import_contracts_are_kept() -> None:
    """What `make lint` and CI run: every import-linter contract of pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --- app/ holds only the program: development code lives in devtools/ ---------------

# Loaded as files rather than imported: the SDK is copied into every trial directory,
# alembic reads the migrations from their folder.
LOADED_AS_FILES = ("app.sdk", "app.store.migrations")


def test_every_module_under_app_is_used_by_the_program() -> None:
    """A module nothing in the program imports (a test fixture, a screenshot scene)
    would still be installed with the package: it belongs in devtools/ or tests/."""
    import grimp

    graph = grimp.build_graph("app")
    roots = ["app.main", "app.cli", "app.__main__", *_command_modules()]
    reached: set[str] = set()
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module in reached:
            continue
        reached.add(module)
        pending.extend(graph.find_modules_directly_imported_by(module))
        parts = module.split(".")
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))
    unused = sorted(module for module in graph.modules - reached
                    if not module.startswith(LOADED_AS_FILES))
    assert unused == [], f"modules under app/ the program never imports: {unused}"


def _command_modules() -> set[str]:
    """The modules ``sweeplab``'s commands load by name when they run (the parsers name
    their handlers lazily, so that ``--help`` imports none of them)."""
    import argparse

    from app.cli import build_parser
    from app.commands.parsers import Handler

    modules: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        handler = parser.get_default("handler")
        if isinstance(handler, Handler):
            modules.add(f"app.commands.{handler.module}")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return modules


def _imported_names(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_app_never_imports_devtools() -> None:
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "app").rglob("*.py"))
                 if any(name.split(".")[0] == "devtools" for name in _imported_names(path))]
    assert offenders == []


def test_devtools_is_neither_installed_nor_bundled() -> None:
    import fnmatch
    import tomllib

    from installers import bundle_config

    with (ROOT / "pyproject.toml").open("rb") as file:
        find = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]
    assert not any(fnmatch.fnmatch("devtools", pattern) for pattern in find["include"])
    assert (ROOT / "devtools" / "__init__.py").is_file()
    bundled = [*bundle_config.HIDDEN_IMPORTS, *(source for source, _ in bundle_config.DATA)]
    assert not [name for name in bundled if name.startswith(("devtools", "tests"))]
    spec = (ROOT / "installers" / "sweeplab.spec").read_text(encoding="utf-8")
    assert "devtools" not in spec and "collect_submodules" not in spec
