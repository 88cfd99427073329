"""The Help menu's windows: reporting metrics, keyboard shortcuts, About Sweeplab."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable
from importlib import metadata

import PySide6
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.views.help_text import COPY_SCHEME, examples, reporting_html

NOT_INSTALLED = "not installed"
PACKAGES = (("Sweeplab", "sweeplab"), ("pyqtgraph", "pyqtgraph"), ("hyperopt", "hyperopt"),
            ("SQLAlchemy", "sqlalchemy"), ("paramiko", "paramiko"))
"""(shown name, distribution name) of the packages About lists, besides Python and Qt."""


def package_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``not installed``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def versions(database_url: str) -> list[tuple[str, str]]:
    """What About shows: Sweeplab, Python, Qt, PySide6, the libraries, the database.

    ``database_url`` should have its password masked already (``Store.url`` does).
    """
    rows = [(shown, package_version(dist)) for shown, dist in PACKAGES[:1]]
    rows += [("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
             ("Qt", qVersion()), ("PySide6", PySide6.__version__)]
    rows += [(shown, package_version(dist)) for shown, dist in PACKAGES[1:]]
    rows += [("Platform", platform.platform(terse=True)), ("Database", database_url)]
    return rows


def versions_text(rows: list[tuple[str, str]]) -> str:
    """``name: version`` lines, for pasting into a bug report."""
    return "".join(f"{name}: {value}\n" for name, value in rows)


def shortcut_rows(actions: Iterable[QAction],
                  where: Callable[[QAction], str] = lambda _action: ""
                  ) -> list[tuple[str, str, str]]:
    """``(what it does, keys, where)`` for every action with a shortcut, sorted, no
    repeats; ``where(action)`` names the part of the window it works in.

    The text loses its mnemonic ``&``; several shortcuts of one action are joined by
    ", " in the platform's own notation (⌘ on macOS).
    """
    rows: set[tuple[str, str, str]] = set()
    for action in actions:
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()
                if not s.isEmpty()]
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").strip()
        if keys and text:
            rows.add((text, ", ".join(keys), where(action)))
    return sorted(rows, key=lambda row: (row[2] != "everywhere", row[2].casefold(),
                                         row[0].casefold()))


class ReportingHelpDialog(QDialog):
    """Help → Reporting metrics: the four ways a trial reports, each example copyable.

    Args:
        kpi: the metric name the examples use (the shown experiment's KPI).
        parent: the owning window.
    """

    def __init__(self, kpi: str = "loss", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reporting metrics")
        self._examples = examples(kpi)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setHtml(reporting_html(kpi))
        self.browser.anchorClicked.connect(self._link)
        self.copied = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)
        self.resize(760, 680)

    def copy_example(self, number: int) -> str:
        """Put example ``number`` (0 = SDK) on the clipboard and return it.

        Raises:
            IndexError: there is no such example.
        """
        if not 0 <= number < len(self._examples):
            raise IndexError(f"no example {number}: there are {len(self._examples)}")
        code = self._examples[number].code
        QGuiApplication.clipboard().setText(code)
        self.copied.setText(f"Copied: {self._examples[number].title}")
        return code

    def _link(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME and url.path().isdigit():
            self.copy_example(int(url.path()))


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: a table made from the window's actions.

    Args:
        actions: every action of the window (those without a shortcut are left out).
        parent: the owning window.
        where: names the part of the window an action works in.
    """

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None,
                 where: Callable[[QAction], str] = lambda _action: "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(actions, where)
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Where"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        for row, cells in enumerate(self.rows):
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(cell))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 420)


class AboutDialog(QDialog):
    """Help → About Sweeplab: what it is, and the versions to quote in a bug report.

    Args:
        database_url: the open database (password masked).
        parent: the owning window.
    """

    def __init__(self, database_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Sweeplab")
        self.rows = versions(database_url)
        heading = QLabel("<h2>Sweeplab</h2><p>Hyperparameter optimisation on your own "
                         "machines: a typed search space, local GPUs and lab servers over "
                         "SSH, live trials and curves.</p>")
        heading.setWordWrap(True)
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["Component", "Version"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        for row, (name, value) in enumerate(self.rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            self.table.setItem(row, 1, item)
        self.table.resizeColumnToContents(0)
        copy = QPushButton("Copy versions")
        copy.setToolTip("For a bug report")
        copy.clicked.connect(self.copy_versions)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(660, 450)

    def copy_versions(self) -> str:
        """Put the versions on the clipboard as text and return it."""
        text = versions_text(self.rows)
        QGuiApplication.clipboard().setText(text)
        return text
