"""app.application.analysis is below the views: it imports and computes with Qt absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = """
import importlib.abc, sys
class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PySide6', 'pyqtgraph', 'shiboken6'}:
            raise ImportError(f'Qt is not installed here ({name})')
        return None
sys.meta_path.insert(0, NoQt())
from datetime import UTC, datetime
from app.application.analysis import best_trial_ids, parameter_importance
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
trials = [TrialRecord(id=n, experiment_id=1, number=n, state=TrialState.COMPLETED,
                      params={"x": float(n % 7), "y": float(n % 3)},
                      created_at=datetime.now(UTC), kpi=float((n % 7) ** 2))
          for n in range(21)]
result = parameter_importance(trials, "loss", n_estimators=10, n_repeats=2)
print(result.params[0].name, best_trial_ids(trials, Goal.MIN, 1))
"""


def test_analysis_runs_with_qt_absent() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["x", "[0]"]
