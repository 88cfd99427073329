"""``sweeplab ... | head``: a reader that goes away ends the command quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.engine.experiment import experiment_from_dict
from app.engine.trial import TrialState
from app.store.places import sqlite_url
from app.store.store import Store
from tests.helpers import SPACE_X, experiment_doc

ROOT = Path(__file__).resolve().parent.parent


def _first_line_then_close(*args: str) -> tuple[int, str]:
    """Run ``sweeplab args``, read one line of its output, close the pipe (as ``head -1``
    does) and return its exit status and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=60), err


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """``space sample | head`` said 'error: [Errno 32] Broken pipe' and exited 2 (bad
    input); ``show | head`` exited 1 (an internal error's status) through Rich."""
    space = tmp_path / "space.yaml"
    space.write_text(json.dumps(SPACE_X))
    url = sqlite_url(tmp_path / "db.sqlite")
    config = experiment_from_dict(experiment_doc(tmp_path), tmp_path)
    with Store(url) as store:
        exp = store.create_experiment("many", config.to_dict())
        for number in range(1, 1501):
            trial = store.create_trial(exp.id, {"x": number / 1500})
            store.update_trial(trial.id, state=TrialState.RUNNING)
            store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=number / 7)
    for args in (("show", "--db", url, "many"),
                 ("space", "sample", str(space), "-n", "200000")):
        status, err = _first_line_then_close(*args)
        assert (status, err) == (141, ""), args
