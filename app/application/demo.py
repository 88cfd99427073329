"""The demo experiment (the quadratic example) every new user starts with."""

from __future__ import annotations

from pathlib import Path

from app.engine.experiment import load_experiment
from app.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
"""The checkout, or the bundle's data folder (``examples/`` and ``resources/`` lie there)."""
DEMO_EXPERIMENT = ROOT / "examples" / "quadratic" / "experiment.yaml"


def ensure_demo(store: Store) -> int:
    """Store the demo experiment unless it is there already.

    Returns:
        The demo experiment's id.

    Raises:
        DocumentError, ExperimentError: the demo's files are missing or invalid (a
            broken install).
    """
    config = load_experiment(DEMO_EXPERIMENT)
    for experiment in store.list_experiments():
        if experiment.name == config.name:
            return experiment.id
    return store.create_experiment(config.name, config.to_dict()).id
