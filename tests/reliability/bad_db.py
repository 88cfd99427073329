"""Databases for the hostile-input tests: a good one to protect, broken ones to refuse."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.experiment import experiment_from_dict
from app.engine.records import MetricPoint
from app.engine.trial import TrialState
from app.remote.ssh.profile import ServerProfile
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store

GOLDEN_EXPERIMENT: dict[str, Any] = {
    "version": 1, "name": "kept", "command": "{python} train.py --x {x}",
    "kpi": {"name": "loss", "goal": "min"},
    "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                       "distribution": "uniform", "min": 0, "max": 1,
                                       "default": 0.5}]},
    "algorithm": {"name": "random", "seed": 1}, "limits": {"max_trials": 1},
}
"""A valid experiment (add ``code_dir``); the golden database holds it as ``kept``."""


@dataclass(frozen=True)
class StoredState:
    """What a database holds, compared before and after a refused command."""

    experiments: tuple[tuple[str, str], ...]
    trials: tuple[tuple[int, str, float | None], ...]
    metrics: tuple[tuple[str, float, int | None], ...]
    servers: tuple[ServerProfile, ...]

    @classmethod
    def of(cls, db: Path) -> StoredState:
        """Read it all back through the Store."""
        with Store(sqlite_url(db)) as store:
            experiments = store.list_experiments()
            trials = [t for e in experiments for t in store.list_trials(e.id)]
            points = [p for t in trials for p in store.get_metrics(t.id)]
            return cls(
                tuple((e.name, e.state.value) for e in experiments),
                tuple((t.number, t.state.value, t.kpi) for t in trials),
                tuple((p.name, p.value, p.step) for p in points),
                tuple(ServerProfiles(store).list()),
            )


def make_golden(path: Path) -> StoredState:
    """A database with experiment ``kept``, one completed trial with metrics, a server."""
    code = path.parent / "code"
    code.mkdir()
    config = experiment_from_dict({**GOLDEN_EXPERIMENT, "code_dir": str(code)}, code)
    with Store(sqlite_url(path)) as store:
        experiment = store.create_experiment("kept", config.to_dict())
        trial = store.create_trial(experiment.id, {"x": 0.25})
        store.update_trial(trial.id, state=TrialState.RUNNING)
        store.add_metrics([MetricPoint(trial.id, "loss", 1.0 / step, step, 1.0 + step)
                           for step in range(1, 6)])
        store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=0.2, exit_code=0)
        ServerProfiles(store).add(ServerProfile(name="lab1", host="10.0.0.9", user="alice"))
    return StoredState.of(path)


PASSWORD = "s3cret:pw"
"""The password in every bad URL: no message may show it, nor a part of it."""
BAD_URLS: dict[str, str] = {
    "@bad-port.url": f"postgresql://ada:{PASSWORD}@db.lab:54x2/sweeplab",
    "@port-range.url": f"postgresql://ada:{PASSWORD}@db.lab:99999/sweeplab",
    "@at-in-password.url": f"postgresql://ada:{PASSWORD}@t@db.lab/sweeplab",
}
"""The ``@*.url`` cases of tests/data/bad/database: database URLs with one part wrong."""


def make_database(name: str, folder: Path, golden: Path) -> Path:
    """The broken database file ``name`` (an ``@`` case of tests/data/bad/database)."""
    folder.mkdir(parents=True)
    path = folder / name.lstrip("@")
    if name == "@not-sqlite.db":
        path.write_text("these are my notes, not a database\n" * 100)
    elif name == "@truncated.db":
        data = golden.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == "@other-app.db":
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            other.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
            other.execute("INSERT INTO users (name) VALUES ('ada')")
        other.close()
    elif name == "@newer-schema.db":
        shutil.copy(golden, path)
        newer = sqlite3.connect(path)
        with newer:
            newer.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        newer.close()
    elif name in ("@locked.db", "@read-only.db"):
        shutil.copy(golden, path)
        if name == "@read-only.db":
            path.chmod(0o444)
    elif name == "@a-folder.db":
        path.mkdir()
    elif name == "@no-folder.db":
        path = folder / "no such folder" / "sweeplab.db"
    else:
        raise ValueError(f"tests/data/bad/database: no maker for {name!r}")
    return path
