"""An exploit takes the donor's hyperparameters with its checkpoint, then explores them
(Jaderberg et al. 2017; issue 19: "the worst ones copy the checkpoint and
hyperparameters of the best ones and perturb them"): a trial that kept its own lr
while taking a better trial's weights never learns the donor's schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.pbt import Segment
from app.engine.trial import ExperimentState
from app.store.store import Store
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import POPULATION, TRAIN, pbt_fields


def _donor_params(segments: list[Segment], exploit: Segment) -> dict[str, object]:
    """The donor's params when the exploit was decided: its newest segment by then."""
    before = [s for s in segments if s.trial_id == exploit.donor_trial_id
              and s.created_at <= exploit.created_at]
    return max(before, key=lambda s: s.index).params


def test_an_exploit_perturbs_the_donors_params_not_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", str(POPULATION))
    code = write_code(tmp_path, TRAIN)
    fields = pbt_fields({"STARTS": str(tmp_path / "starts")})
    fields["scheduler"]["resample_probability"] = 0.0  # perturb only: x0.8 or x1.2
    from app.engine.experiment import experiment_from_dict

    config = experiment_from_dict(experiment_doc(code, **fields), code)
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=5.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=120, what="the run to end")
        assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
        segments = store.segments(experiment.id)
    exploits = [s for s in segments if s.is_exploit]
    assert exploits, "no trial exploited another"
    for exploit in exploits:
        donor_lr = float(_donor_params(segments, exploit)["lr"])  # type: ignore[arg-type]
        allowed = [min(max(donor_lr * f, 0.01), 1.0) for f in (0.8, 1.2)]
        assert float(exploit.params["lr"]) == pytest.approx(allowed[0]) or float(
            exploit.params["lr"]) == pytest.approx(allowed[1]), (exploit, donor_lr)
