"""What goes into the PyInstaller bundle and what stays out: read by ``sweeplab.spec``.

Kept apart from the spec so the lists are plain Python that tests can import. To let
a module back in, delete its line from :data:`EXCLUDED_MODULES` or
:data:`EXCLUDED_QT_MODULES`. A name the app itself imports (a top-level ``import``
anywhere under ``app/``) is never excluded, whatever these lists say: the spec drops it
from the excludes and says so, so adding, for instance, a scikit-learn chart to the
views cannot produce a bundle that lacks scikit-learn.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePath

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "sweeplab"
BUNDLE_ID = "org.sweeplab.Sweeplab"

EXCLUDED_MODULES: list[str] = [
    # hyperopt.atpe imports these inside a function (the ATPE algorithm, which
    # Sweeplab does not offer); the views do not import them today.
    "sklearn",
    "joblib",
    "threadpoolctl",
    "lightgbm",
    # scipy itself is needed (hyperopt imports scipy.stats and scipy.special at import
    # time); these subpackages are not imported by anything the app runs.
    "scipy.io",
    "scipy.signal",
    "scipy.cluster",
    "scipy.odr",
    "scipy.datasets",
    "scipy.misc",
    "scipy.fftpack",
    "scipy.differentiate",
    # pyqtgraph parts the charts do not use (3D needs PyOpenGL; notebooks; examples)
    "pyqtgraph.examples",
    "pyqtgraph.opengl",
    "pyqtgraph.jupyter",
    "pyqtgraph.flowchart",
    "pyqtgraph.canvas",
    "pyqtgraph.console",
    "OpenGL",
    # hyperopt's Spark and MongoDB back-ends, notebooks, plotting
    "pyspark",
    "py4j",
    "pymongo",
    "IPython",
    "matplotlib",
    "pandas",
    # development and benchmark tools that share the virtual environment
    "optuna",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "mypy",
    "importlinter",
    "grimp",
    "PyInstaller",
    "setuptools",
    "pkg_resources",
    "tkinter",
]

EXCLUDED_QT_MODULES: list[str] = [
    # PySide6-Essentials modules the app never imports (pyqtgraph needs QtCore, QtGui,
    # QtWidgets, QtSvg, QtOpenGL, QtOpenGLWidgets and QtTest)
    "QtQml", "QtQuick", "QtQuickControls2", "QtQuickTest", "QtQuickWidgets",
    "QtDesigner", "QtHelp", "QtUiTools", "QtSql", "QtXml", "QtConcurrent", "QtNetwork",
    "QtDBus", "QtPrintSupport", "QtSvgWidgets",
    # PySide6-Addons, in case they are installed
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel",
    "QtWebSockets", "QtWebView", "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic",
    "Qt3DAnimation", "Qt3DExtras", "QtMultimedia", "QtMultimediaWidgets",
    "QtSpatialAudio", "QtQuick3D", "QtCharts", "QtDataVisualization", "QtGraphs",
    "QtGraphsWidgets", "QtPdf", "QtPdfWidgets", "QtBluetooth", "QtNfc", "QtPositioning",
    "QtLocation", "QtSensors", "QtSerialPort", "QtSerialBus", "QtTextToSpeech",
    "QtRemoteObjects", "QtScxml", "QtStateMachine", "QtHttpServer", "QtNetworkAuth",
]

UNUSED_QT_PLUGINS: list[str] = [
    # under PySide6/Qt/plugins/; the libraries only these need go with them
    "platformthemes/libqgtk3",  # loads the system's GTK 3 against the bundle's cairo/pango
    "platforms/libqeglfs",  # full-screen and embedded back-ends, not a desktop's
    "platforms/libqlinuxfb",
    "platforms/libqvnc",
    "platforms/libqvkkhrdisplay",
    "platforms/libqminimalegl",
    "egldeviceintegrations/",
    "generic/",  # evdev and TUIO input for embedded devices
]

KEPT_TRANSLATIONS = ("qtbase_",)
"""Qt translation files kept (by name prefix): the app's own strings are English, Qt's
standard dialogs still speak the user's language."""

DATA: list[tuple[str, str]] = [
    # (source relative to the repository root, folder inside the bundle)
    ("app/store/migrations", "app/store/migrations"),  # alembic reads these as files
    ("app/sdk/sweeplab.py", "app/sdk"),  # copied into every trial directory
    ("examples/quadratic", "examples/quadratic"),  # the demo experiment
    ("resources", "resources"),  # icons
]

HIDDEN_IMPORTS: list[str] = [
    # imported only by the migration scripts, which the analysis does not read
    "alembic.op",
    "alembic.context",
    "app.store.models",
    # the command handlers, which app/commands/parsers.py imports by name when one runs
    "app.commands.clusters_cmd",
    "app.commands.exp_cmd",
    "app.commands.run_cmd",
    "app.commands.servers_cmd",
    "app.commands.space_cmd",
]


def version() -> str:
    """The project's version from pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def app_imports(package: Path = ROOT / "app") -> set[str]:
    """Every module name the package's code imports, with each of its parents.

    ``import scipy.stats`` gives ``scipy`` and ``scipy.stats``; relative imports are
    the package's own and are skipped.

    Raises:
        SyntaxError: a file under ``package`` does not parse (the message names it).
    """
    names: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for name in found:
                parts = name.split(".")
                names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return names


def required_modules(modules: Iterable[str]) -> set[str]:
    """Top-level modules of the distributions that provide ``modules``, and of every
    distribution these require in turn (requirements behind an extra are skipped).

    ``{"sklearn"}`` gives ``sklearn``, ``joblib``, ``threadpoolctl``, ``scipy``,
    ``numpy``... as installed here. Modules of no installed distribution (the
    standard library, ``app``) add nothing.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    provides: dict[str, set[str]] = {}
    dists_of: dict[str, list[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        dists_of[module] = [canonicalize_name(dist) for dist in dists]
        for dist in dists:
            provides.setdefault(canonicalize_name(dist), set()).add(module)
    todo = [dist for module in {m.split(".")[0] for m in modules}
            for dist in dists_of.get(module, [])]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requirements = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requirements:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return set().union(*(provides.get(dist, set()) for dist in seen))


def excludes(imported: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """The module names to exclude, and those kept back because the app needs them.

    A name of :data:`EXCLUDED_MODULES` or (prefixed with ``PySide6.``)
    :data:`EXCLUDED_QT_MODULES` is kept when the app imports it or a module inside
    it; a top-level name also when a distribution the app imports requires it
    (excluding ``sklearn`` would otherwise be undone by a chart that imports
    scikit-learn, but not ``joblib`` that scikit-learn needs).

    Args:
        imported: module names the app imports (default: :func:`app_imports`).

    Returns:
        ``(excluded, kept)``, both in the order of the lists.
    """
    used = set(app_imports() if imported is None else imported)
    required = required_modules(used)
    wanted = [*EXCLUDED_MODULES, *(f"PySide6.{name}" for name in EXCLUDED_QT_MODULES)]
    excluded: list[str] = []
    kept: list[str] = []
    for name in wanted:
        needed = name in used or any(u.startswith(name + ".") for u in used)
        needed = needed or ("." not in name and name in required)
        (kept if needed else excluded).append(name)
    return excluded, kept


def unused_file(dest: str) -> bool:
    """True for a collected data file the app does not need at run time.

    That is: Qt translations other than :data:`KEPT_TRANSLATIONS`, Qt's QML files, and
    bytecode caches picked up with the data folders.
    """
    path = Path(dest)
    if "__pycache__" in path.parts:
        return True
    if path.parts[:2] != ("PySide6", "Qt"):
        return False
    if "translations" in path.parts:
        return not path.name.startswith(KEPT_TRANSLATIONS)
    return "qml" in path.parts


def unused_plugin(dest: str) -> bool:
    """True for a Qt plugin of :data:`UNUSED_QT_PLUGINS` (``dest``: its path in the bundle)."""
    marker = "PySide6/Qt/plugins/"
    path = PurePath(dest).as_posix()
    if marker not in path:
        return False
    inside = path.split(marker, 1)[1]
    return any(inside.startswith(prefix) for prefix in UNUSED_QT_PLUGINS)


Entry = tuple[str, str, str]
"""One item of PyInstaller's table of binaries: (path in the bundle, source, type)."""


def prune_binaries(binaries: Sequence[Entry], imports_of: Callable[[str], set[str]]
                   ) -> tuple[list[Entry], list[str]]:
    """The binaries without the unused Qt plugins and the libraries only those need.

    Args:
        binaries: PyInstaller's table of binaries.
        imports_of: the file names of the libraries a binary (given by its source
            path) loads, its dependencies' included.

    Returns:
        ``(kept, dropped)``: the remaining entries, and the bundle paths dropped.
    """
    plugins = [entry for entry in binaries if unused_plugin(entry[0])]
    rest = [entry for entry in binaries if not unused_plugin(entry[0])]
    if not plugins:
        return list(binaries), []
    cache: dict[str, set[str]] = {}

    def links(entry: Entry) -> set[str]:
        if entry[1] not in cache:
            cache[entry[1]] = imports_of(entry[1])
        return cache[entry[1]]

    # the libraries the plugins load, directly or through each other...
    by_name = {PurePath(entry[0]).name: entry for entry in rest}
    orphans: set[str] = set()
    todo = set().union(*(links(entry) for entry in plugins))
    while todo:
        name = todo.pop()
        if name not in orphans:
            orphans.add(name)
            if name in by_name:
                todo |= links(by_name[name])
    # ...less those that something staying loads (repeated: a library that stays may
    # load another candidate in turn)
    while True:
        needed = set().union(*(links(entry) for entry in rest
                               if PurePath(entry[0]).name not in orphans))
        if not orphans & needed:
            break
        orphans -= needed
    kept = [entry for entry in rest if PurePath(entry[0]).name not in orphans]
    dropped = [entry[0] for entry in plugins]
    dropped += [entry[0] for entry in rest if PurePath(entry[0]).name in orphans]
    return kept, dropped
