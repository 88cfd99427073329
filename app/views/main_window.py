"""The main window. For now: the experiment's space and a preview of sampled points."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.engine.params import flatten
from app.engine.search import Algorithm, GridSearcher, make_searcher
from app.engine.space.nodes import Space
from app.views.space_model import SpaceTreeModel

PREVIEW_COUNT = 10


class MainWindow(QMainWindow):
    """Shows one space as a tree beside 10 sampled configurations."""

    def __init__(self, space: Space, title: str) -> None:
        super().__init__()
        self.setWindowTitle(f"Sweeplab — {title}")
        self.model = SpaceTreeModel(space, self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        self.tree.expandAll()
        for column in range(self.model.columnCount()):
            self.tree.resizeColumnToContents(column)

        self.preview = QPlainTextEdit(readOnly=True)
        self.grid_label = QLabel()
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.addWidget(QLabel(f"{PREVIEW_COUNT} sampled configurations"))
        layout.addWidget(self.preview)
        layout.addWidget(self.grid_label)

        splitter = QSplitter()
        splitter.addWidget(self.tree)
        splitter.addWidget(side)
        splitter.setSizes([560, 440])
        self.setCentralWidget(splitter)
        self.resize(1100, 600)
        self.show_preview(space)

    def show_preview(self, space: Space) -> None:
        """Fill the side panel from a fresh random searcher."""
        searcher = make_searcher(Algorithm.RANDOM, space, seed=0)
        lines = []
        for trial_id in range(1, PREVIEW_COUNT + 1):
            params = searcher.suggest(trial_id)
            if params is not None:
                lines.append(json.dumps(flatten(params)))
        self.preview.setPlainText("\n".join(lines))
        try:
            self.grid_label.setText(f"Grid size: {GridSearcher(space).size}")
        except ValueError as exc:
            self.grid_label.setText(f"Grid: not possible — {str(exc).splitlines()[0]}")
