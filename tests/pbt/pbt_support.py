"""A PBT experiment over real processes: its trial script and what a test checks."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from app.engine.pbt import Segment
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.store.store import Store

STEPS = 10
POPULATION = 4

# Accuracy grows by lr per step (lr in [0.01, 1]): trials with a small lr fall behind and
# exploit those with a large one. Its state is saved as a checkpoint at every step; a
# continuing segment reads the donor's state back and prints where it came from.
TRAIN = f"""
import json, os, signal, time, sweeplab
if os.environ.get("IGNORE_INT"):  # a script that trains to its end whatever it is told
    signal.signal(signal.SIGINT, signal.SIG_IGN)
lr = sweeplab.param("lr")
start = sweeplab.start_step()
acc, origin = 0.0, None
restored = sweeplab.restore_dir()
if restored is not None:
    state = json.loads((restored / "state.json").read_text())
    acc, origin = state["acc"], state
print("SEGMENT " + json.dumps({{"start": start, "lr": lr, "origin": origin}}), flush=True)
with open(os.environ["STARTS"], "a") as starts:
    starts.write(json.dumps({{"trial": int(os.environ["SWEEPLAB_TRIAL_ID"]), "start": start}})
                 + "\\n")
try:
    for step in range(start + 1, int(os.environ.get("STEPS", "{STEPS}")) + 1):
        time.sleep(float(os.environ.get("PACE", "0.2")))
        acc += lr
        (sweeplab.checkpoint_dir() / "state.json").write_text(json.dumps(
            {{"trial": int(os.environ["SWEEPLAB_TRIAL_ID"]), "step": step, "acc": acc}}))
        sweeplab.checkpointed(step)
        sweeplab.report("acc", acc, step=step)
        # with $HOLD_AT and $GATE: held after that step until the test creates the file
        while (step == int(os.environ.get("HOLD_AT", "0")) and os.environ.get("GATE")
               and not os.path.exists(os.environ["GATE"])):
            time.sleep(0.01)
except KeyboardInterrupt:  # with $GATE: held at its stop until the test creates the file
    while os.environ.get("GATE") and not os.path.exists(os.environ["GATE"]):
        time.sleep(0.01)
"""

SPACE = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "uniform",
     "min": 0.01, "max": 1.0, "default": 0.5}]}


def pbt_fields(env: dict[str, str], seed: int = 2, steps: int = STEPS) -> dict[str, Any]:
    """The experiment fields of a PBT run of :data:`TRAIN` (``experiment_doc``'s) over
    ``steps`` steps a trial."""
    return {
        "space": SPACE, "kpi": {"name": "acc", "goal": "max"},
        "algorithm": {"name": "random", "seed": seed},
        "scheduler": {"name": "pbt", "population": POPULATION, "interval": 2,
                      "quantile": 0.25, "seed": seed,
                      "mutations": {"lr": {"kind": "perturb", "factors": [0.8, 1.2]}}},
        "limits": {"max_epochs": steps}, "env": {**env, "STEPS": str(steps)},
    }


SEGMENT_LINE = re.compile(r"^SEGMENT (\{.*\})$", re.MULTILINE)


def segment_lines(folder: str) -> list[dict[str, Any]]:
    """What each process in a segment folder printed when it started."""
    text = (Path(folder) / "output.log").read_text()
    return [json.loads(m.group(1)) for m in SEGMENT_LINE.finditer(text)]


def check_run(store: Store, experiment_id: int, starts: Path,
              steps: int = STEPS) -> list[Segment]:
    """Every trial completed once with all its steps, every exploit continued from its
    donor's checkpoint with its own params; returns the segments."""
    trials = store.list_trials(experiment_id)
    assert len(trials) == POPULATION and all(t.rerun_of is None for t in trials)
    assert [t.state for t in trials] == [TrialState.COMPLETED] * POPULATION, [
        (t.number, t.state, t.error) for t in trials]
    segments = store.segments(experiment_id)
    by_id = {t.id: t for t in trials}
    executed = [json.loads(line) for line in starts.read_text().splitlines()]
    assert len(executed) == len(segments), (executed, segments)  # each segment ran once
    for trial in trials:
        own = [s for s in segments if s.trial_id == trial.id]
        assert [s.index for s in own] == list(range(len(own)))
        _check_trial(store, trial, own, by_id, steps)
    return segments


def _check_trial(store: Store, trial: TrialRecord, own: list[Segment],
                 by_id: dict[int, TrialRecord], steps: int) -> None:
    assert own[0].params == trial.params and own[0].start_step == 0
    assert own[-1].trial_dir == trial.trial_dir and own[-1].end_step == steps
    for before, segment in itertools.pairwise(own):
        assert segment.donor_trial_id in by_id and segment.donor_trial_id != trial.id
        assert segment.checkpoint_step == segment.start_step
        assert before.end_step is not None  # it may have been behind or ahead of its donor
        assert segment.trial_dir is not None
        (line,) = segment_lines(segment.trial_dir)
        assert line["start"] == segment.start_step
        assert line["lr"] == segment.params["lr"] and 0.01 <= line["lr"] <= 1.0
        assert line["origin"]["step"] == segment.checkpoint_step
        assert 0.01 <= segment.params["lr"] <= 1.0
    points = store.get_metrics(trial.id, "acc")
    # every step of every segment stored once: segment i covers (start, end]
    expected = sorted(step for i, s in enumerate(own)
                      for step in range(s.start_step + 1, (s.end_step or 0) + 1))
    assert sorted(p.step for p in points if p.step is not None) == expected
