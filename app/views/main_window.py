"""The main window: experiments on the left, the selected one's space and a preview."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.engine.experiment import ExperimentConfig
from app.engine.params import flatten
from app.engine.search import Algorithm, GridSearcher, make_searcher
from app.engine.space.nodes import Space
from app.views.space_model import SpaceTreeModel

PREVIEW_COUNT = 10


class MainWindow(QMainWindow):
    """Lists experiments; shows the chosen one's space beside 10 sampled configurations."""

    def __init__(self, experiments: list[tuple[str, str, ExperimentConfig]], title: str) -> None:
        super().__init__()
        self.setWindowTitle(f"Sweeplab — {title}")
        self._configs = {name: config for name, _, config in experiments}
        self.experiments = QListWidget()
        for name, state, _ in experiments:
            item = QListWidgetItem(f"{name}\n{state}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.experiments.addItem(item)

        self.model = SpaceTreeModel(Space(), self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)

        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QPlainTextEdit(readOnly=True)
        self.grid_label = QLabel()
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel(f"{PREVIEW_COUNT} sampled configurations"))
        layout.addWidget(self.preview)
        layout.addWidget(self.grid_label)

        splitter = QSplitter()
        splitter.addWidget(self.experiments)
        splitter.addWidget(self.tree)
        splitter.addWidget(side)
        splitter.setSizes([200, 560, 440])
        self.setCentralWidget(splitter)
        self.resize(1300, 640)
        self.experiments.currentItemChanged.connect(self._on_select)
        if experiments:
            self.experiments.setCurrentRow(0)

    def _on_select(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        config = self._configs[item.data(Qt.ItemDataRole.UserRole)]
        self.show_experiment(config)

    def show_experiment(self, config: ExperimentConfig) -> None:
        """Show one experiment's space, settings and a preview of sampled points."""
        self.model.set_space(config.space)
        self.tree.expandAll()
        for column in range(self.model.columnCount()):
            self.tree.resizeColumnToContents(column)
        limits = config.limits
        self.summary.setText(
            f"<b>{config.name}</b><br>command: <code>{config.command}</code><br>"
            f"KPI: {config.kpi.name} ({config.kpi.goal.value}), algorithm: "
            f"{config.algorithm.value}<br>max trials {limits.max_trials}, parallel "
            f"{limits.max_parallel}, max epochs {limits.max_epochs or '—'}"
        )
        self.show_preview(config.space)

    def show_preview(self, space: Space) -> None:
        """Fill the side panel from a fresh random searcher."""
        searcher = make_searcher(Algorithm.RANDOM, space, seed=0)
        lines = []
        for trial_id in range(1, PREVIEW_COUNT + 1):
            params = searcher.suggest(trial_id)
            if params is not None:
                shown = {k: float(f"{v:.4g}") if isinstance(v, float) else v
                         for k, v in flatten(params).items()}
                lines.append(json.dumps(shown))
        self.preview.setPlainText("\n".join(lines))
        try:
            self.grid_label.setText(f"Grid size: {GridSearcher(space).size}")
        except ValueError as exc:
            self.grid_label.setText(f"Grid: not possible — {str(exc).splitlines()[0]}")
