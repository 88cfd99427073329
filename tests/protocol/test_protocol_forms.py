"""Every way of reporting delivers a metric, each from a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from protocol_support import parse_lines

from app.engine.params import flatten
from app.engine.protocol import MetricRegex, MetricReport
from app.engine.records import TrialSpec
from app.remote.snapshot import take_snapshot
from app.remote.trial_dir import prepare_trial_dir

AUPTIMIZER = Path(__file__).resolve().parents[1] / "data" / "auptimizer"

REGEXES = [MetricRegex.compile("val_acc", r"val_acc=([0-9.eE+-]+)", r"epoch=(\d+)")]
FORMS = {
    "sdk": [sys.executable, "-c", "import sweeplab; sweeplab.report('val_acc', 0.93, step=3)"],
    "shell-marked-line": [
        "/bin/sh", "-c",
        """printf '%s\\n' '#sweeplab {"metric": "val_acc", "value": 0.93, "step": 3}'""",
    ],
    "regex": ["/bin/sh", "-c", "echo 'epoch=3 loss=0.2 val_acc=0.93'"],
    "auptimizer-stderr": ["/bin/sh", "-c", "printf '\\n#Auptimizer:0.93\\n' >&2"],
}
EXPECTED = {
    "sdk": MetricReport("val_acc", 0.93, 3),
    "shell-marked-line": MetricReport("val_acc", 0.93, 3),
    "regex": MetricReport("val_acc", 0.93, 3),
    "auptimizer-stderr": MetricReport("val_acc", 0.93, None),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_form_delivers_the_metric(form: str, make_trial: Callable[..., dict[str, str]]) -> None:
    result = subprocess.run(FORMS[form], env=make_trial({"lr": 0.1}), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=30, check=False)
    assert result.returncode == 0
    lines = result.stdout.decode("utf-8", errors="replace").splitlines()
    assert parse_lines(lines, kpi="val_acc", regexes=REGEXES) == [EXPECTED[form]]


@pytest.mark.parametrize(("optimizer", "expected"), [
    ({"_name": "adam", "beta1": 0.9}, 0.25 + 0.064),
    ({"_name": "sgd", "momentum": 0.5}, 0.25 + 0.064 + 0.5),
])
def test_an_auptimizer_script_runs_unchanged_with_aup_params(
        tmp_path: Path, optimizer: dict[str, Any], expected: float) -> None:
    """Issue 15.12: an Auptimizer script reads top-level keys of the JSON file in argv[1].

    The trial directory is made by the executors' own code; the script and its ``aup``
    module are Auptimizer's, not a line changed.
    """
    code = tmp_path / "code"
    code.mkdir()
    for name in ("train.py", "aup.py"):
        shutil.copy(AUPTIMIZER / name, code / name)
    snapshot = take_snapshot(code, tmp_path / "snaps")
    params = {"x": 0.5, "units": 64, "optimizer": optimizer}
    spec = TrialSpec(1, 1, "{python} train.py {aup_params}", params, snapshot)
    trial_dir = tmp_path / "trial"
    command, env = prepare_trial_dir(trial_dir, spec, sys.executable, tmp_path / "no-sdk", ())
    assert command.endswith(f"train.py {trial_dir / 'auptimizer.json'}")
    result = subprocess.run(["/bin/sh", "-c", command], cwd=trial_dir / "code", env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    reports = parse_lines(result.stderr.splitlines(), kpi="loss")
    assert len(reports) == 1 and isinstance(reports[0], MetricReport)
    assert reports[0].value == pytest.approx(expected)
    written = json.loads((trial_dir / "auptimizer.json").read_text())
    assert written == flatten(params)  # dotted names as top-level keys
    assert json.loads((trial_dir / "params.json").read_text()) == {
        "nested": params, "dotted": flatten(params)}  # the SDK's file is unchanged
