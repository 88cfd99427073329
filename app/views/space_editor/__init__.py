"""The space editor: a tree of typed hyperparameters edited with undo, validated as you go.

:class:`SpaceEditor` is the widget the main window shows; :class:`SpaceTreeModel`
the item model under it (usable on its own); every edit is an undo command.
"""

from __future__ import annotations

from app.views.space_editor.edits import SpaceTreeModel
from app.views.space_editor.tree import NodeKind, SpaceEditError
from app.views.space_editor.widget import Placement, SpaceEditor

__all__ = ["NodeKind", "Placement", "SpaceEditError", "SpaceEditor", "SpaceTreeModel"]
