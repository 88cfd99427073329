"""Which Trials-table columns the user hid, remembered per experiment in a ``QSettings``.

Columns are named by their stable key (``kpi``, ``ended``, ``param:optimizer.lr``,
see :meth:`~app.views.trials.rows.TrialRows.column_key`), and what is stored is
the set of *hidden* keys, so a parameter that appears later shows by default.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

GROUP = "trials_table/hidden_columns"
ALWAYS_SHOWN = frozenset({"number"})
"""Columns that cannot be hidden (the table would lose its rows' identity)."""


class ColumnChoices:
    """Hidden columns per experiment, kept in the ``QSettings`` the caller passes.

    Not thread safe (GUI thread). Nothing is cached: two tables sharing one
    settings object see each other's choices.
    """

    def __init__(self, settings: QSettings, group: str = GROUP) -> None:
        self._settings = settings
        self._group = group

    def hidden(self, experiment: str) -> frozenset[str]:
        """The column keys hidden for ``experiment`` (empty when none or unreadable).

        Raises:
            ValueError: when ``experiment`` is empty.
        """
        raw = self._settings.value(self._key(experiment), "")
        if not raw:
            return frozenset()
        try:
            keys = json.loads(str(raw))
        except json.JSONDecodeError:
            keys = None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            log.warning("settings %s: %r is not a JSON list of column names; showing all "
                        "columns", self._key(experiment), raw)
            return frozenset()
        return frozenset(keys) - ALWAYS_SHOWN

    def set_hidden(self, experiment: str, keys: Iterable[str]) -> None:
        """Remember ``keys`` as the hidden columns of ``experiment`` (none: forget).

        Raises:
            ValueError: when ``experiment`` is empty or a key is always shown.
        """
        hidden = sorted(set(keys))
        refused = ALWAYS_SHOWN.intersection(hidden)
        if refused:
            raise ValueError(f"column {sorted(refused)[0]!r} is always shown")
        key = self._key(experiment)
        if hidden:
            self._settings.setValue(key, json.dumps(hidden))
        else:
            self._settings.remove(key)

    def _key(self, experiment: str) -> str:
        if not experiment:
            raise ValueError("column choices need an experiment key, got ''")
        return f"{self._group}/{experiment}"
