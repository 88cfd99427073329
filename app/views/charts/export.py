"""Charts to PNG or SVG files with pyqtgraph's exporters, and the right-click menu that asks where.

:func:`export_plot` writes one plot (or every plot of a layout widget) to a file
whose suffix picks the format. :class:`ChartExportMenu` puts "Export PNG…" and
"Export SVG…" on a plot widget's context menu.

Everything is drawn as vectors in SVG, the KPI chart's finished curves too (its
layer paints paths instead of its screen cache while an exporter runs, see
:mod:`app.views.charts.layer`): with many trials the file is large.

pyqtgraph 0.14.0's SVG exporter cannot read the close-path command ("Z") that
Qt 6.10 and later write for every clipped view box (pyqtgraph issues #3485 and
#3495, fix not released), so every SVG export of a plot fails there.
:func:`_closed_paths_tolerated` drops those commands from the paths while an
export runs; a path that ends where it starts, as those do, draws the same.
Remove it once a pyqtgraph release reads them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsItem,
    QGraphicsScene,
    QMenu,
    QMessageBox,
    QWidget,
)

FORMATS = {".png": "PNG image", ".svg": "SVG vector image"}
Exportable = QWidget | QGraphicsItem | QGraphicsScene
"""A pyqtgraph view (``PlotWidget``, ``GraphicsLayoutWidget``), a plot item or a scene."""


def export_plot(target: Exportable, path: str | Path, width: int | None = None) -> Path:
    """Write ``target`` to ``path`` as PNG or SVG, as the suffix says.

    Args:
        target: a plot widget (its plot item is written), another pyqtgraph view
            such as a ``GraphicsLayoutWidget`` (its whole scene), a plot item or a scene.
        path: the file to write; ``.png`` or ``.svg`` (any case).
        width: the PNG's width in pixels (default: as shown on screen; the height
            keeps the aspect ratio). Ignored for SVG.

    Returns:
        The path written.

    Raises:
        ValueError: when the suffix is neither ``.png`` nor ``.svg``, or width < 1.
        TypeError: when ``target`` is a widget that is not a pyqtgraph view.
        OSError: when the file cannot be written (e.g. its folder does not exist).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot export a chart to {path.name!r}: the name must end in "
                         ".png or .svg")
    if width is not None and width < 1:
        raise ValueError(f"PNG width must be at least 1 pixel, got {width}")
    if not path.parent.is_dir():
        raise OSError(f"cannot write {path}: folder {path.parent} does not exist")
    item = _exported_item(target)
    if suffix == ".svg":
        with _closed_paths_tolerated():
            pg_exporters.SVGExporter(item).export(str(path))
        return path
    exporter = pg_exporters.ImageExporter(item)
    if width is not None:
        exporter.parameters()["width"] = width  # the height follows the aspect ratio
    if not exporter.export(str(path)):
        raise OSError(f"cannot write {path}: saving the PNG image failed")
    return path


def _exported_item(target: Exportable) -> QGraphicsItem | QGraphicsScene:
    if isinstance(target, pg.PlotWidget):
        item: QGraphicsItem = target.getPlotItem()
        return item
    if isinstance(target, pg.GraphicsView):
        scene: QGraphicsScene = target.scene()
        return scene
    if isinstance(target, QWidget):
        raise TypeError(f"cannot export a {type(target).__name__}: pass a pyqtgraph plot "
                        "widget, a plot item or a scene")
    return target


_CLOSE_PATH = re.compile(r"\s*[Zz](?=\s|$)")


@contextmanager
def _closed_paths_tolerated() -> Iterator[None]:
    """While exporting, strip "Z" from SVG paths before pyqtgraph reads their coordinates.

    See the module docstring. GUI thread only (exports are): the exporter module's
    function is wrapped for the duration of the ``with`` block and restored after.
    """
    module: Any = sys.modules[pg_exporters.SVGExporter.__module__]
    original = module.correctCoordinates

    def correct(node: Any, defs: Any, item: Any, options: Any) -> Any:
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", _CLOSE_PATH.sub("", d).strip())
        return original(node, defs, item, options)

    module.correctCoordinates = correct
    try:
        yield
    finally:
        module.correctCoordinates = original


AskPath = Callable[[str, str], Path | None]
"""``(suffix, suggested file name) -> path`` chosen by the user, or None (cancelled)."""


class ChartExportMenu(QObject):
    """"Export PNG…" and "Export SVG…" on a plot widget's right-click menu.

    Set :attr:`ask_path` to choose the file another way than a file dialog (tests).
    Errors are shown in a message box, never raised into the event loop.

    Signals:
        exported(str path): a chart was written.
    """

    exported = Signal(str)

    def __init__(self, widget: pg.GraphicsView, name: str,
                 target: Exportable | None = None) -> None:
        """Install the menu on ``widget``; files are suggested as ``<name>.png``.

        ``target`` is what gets written (default: ``widget``, see :func:`export_plot`).
        """
        super().__init__(widget)
        self._widget = widget
        self._target: Exportable = widget if target is None else target
        self.name = name
        self.ask_path: AskPath = self._ask_with_dialog
        self.last_dir = Path.home()
        widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        widget.customContextMenuRequested.connect(self._show_menu)

    def menu(self) -> QMenu:
        """The context menu: one entry per format."""
        menu = QMenu(self._widget)
        for suffix, label in FORMATS.items():
            action = menu.addAction(f"Export {suffix[1:].upper()}…")
            action.setToolTip(f"Save this chart as a {label}")
            action.triggered.connect(lambda _checked=False, s=suffix: self.export(s))
        return menu

    def export(self, suffix: str) -> Path | None:
        """Ask for a file and write the chart there; None when cancelled or failed.

        Raises:
            ValueError: when ``suffix`` is not ``.png`` or ``.svg``.
        """
        if suffix not in FORMATS:
            raise ValueError(f"no chart export to {suffix!r}: use .png or .svg")
        chosen = self.ask_path(suffix, f"{self.name}{suffix}")
        if chosen is None:
            return None
        path = chosen if chosen.suffix.lower() == suffix else chosen.with_name(
            chosen.name + suffix)
        try:
            export_plot(self._target, path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self._widget, "Export chart", str(exc))
            return None
        self.last_dir = path.parent
        self.exported.emit(str(path))
        return path

    def _ask_with_dialog(self, suffix: str, suggested: str) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self._widget, f"Export chart as {suffix[1:].upper()}",
            str(self.last_dir / suggested), f"{FORMATS[suffix]} (*{suffix})")
        return Path(name) if name else None

    def _show_menu(self, pos: QPoint) -> None:
        self.menu().exec(self._widget.mapToGlobal(pos))
