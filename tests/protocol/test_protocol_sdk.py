"""The SDK run for real: a trial process reads params.json and prints marked lines."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from protocol_support import clean_env, parse_lines, run_python

from app.engine import protocol
from app.engine.protocol import MetricReport, ProgressReport, ProtocolWarning
from app.sdk import SDK_FILE

NESTED = {
    "lr": 0.01,
    "layers": [64, 32],
    "optimizer": {"_name": "adam", "beta1": 0.9},
    "model": {"depth": 3, "use_bn": True},
}
PYTHON38 = Path("/root/.pyenv/versions/3.8.18/bin/python3.8")
MakeTrial = Callable[..., dict[str, str]]


def load_sdk() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sweeplab_under_test", SDK_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reports_parse_back_exactly(make_trial: MakeTrial) -> None:
    code = """
import numpy as np, sweeplab
sweeplab.report("loss", 0.125, step=1)
sweeplab.report("loss", float("nan"), step=2)
sweeplab.report("loss", float("-inf"), step=3.0)
sweeplab.report("big", 10 ** 400)
sweeplab.report("neg_big", -(10 ** 400))
sweeplab.report("np", np.float32(0.5), step=np.int64(4))
sweeplab.report("npint", np.int64(3))
sweeplab.report("text_number", "0.25")
sweeplab.report("name with \\n newline and \u00e9", 1)
sweeplab.progress(4, total=10)
sweeplab.progress(np.int64(5))
"""
    result = run_python(code, make_trial(NESTED))
    assert result.returncode == 0, result.stderr
    reports = parse_lines(result.stdout.splitlines())
    assert all(isinstance(r, MetricReport | ProgressReport) for r in reports), reports
    assert reports[0] == MetricReport("loss", 0.125, 1)
    assert isinstance(reports[1], MetricReport) and math.isnan(reports[1].value)
    assert reports[1].step == 2
    assert reports[2:] == [
        MetricReport("loss", -math.inf, 3),
        MetricReport("big", math.inf, None),
        MetricReport("neg_big", -math.inf, None),
        MetricReport("np", 0.5, 4),
        MetricReport("npint", 3.0, None),
        MetricReport("text_number", 0.25, None),
        MetricReport("name with \n newline and \u00e9", 1.0, None),
        ProgressReport(4, 10),
        ProgressReport(5, None),
    ]
    assert len(result.stdout.splitlines()) == len(reports), "one line per call"
    assert result.stderr == ""


def test_odd_values_never_crash_the_script(make_trial: MakeTrial) -> None:
    code = """
import sys, sweeplab
class Weird:
    def __float__(self): raise RuntimeError("boom")
    def __repr__(self): raise RuntimeError("no repr either")
sweeplab.report("a", "not a number")
sweeplab.report("b", None)
sweeplab.report("c", True)
sweeplab.report("d", Weird())
sweeplab.report("", 1.0)
sweeplab.report("x" * 201, 1.0)
sweeplab.report("e", 2.0, step=-1)
sweeplab.report("f", 3.0, step=1.5)
sweeplab.report("g", 4.0, step=float("inf"))
sweeplab.progress(-3)
sweeplab.progress("soon")
sweeplab.progress(2, total=0)
print("still alive")
"""
    result = run_python(code, make_trial(NESTED))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "still alive"
    assert parse_lines(lines) == [
        MetricReport("e", 2.0, None),
        MetricReport("f", 3.0, None),
        MetricReport("g", 4.0, None),
        ProgressReport(2, None),
    ]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 12, warnings
    assert all(line.startswith("sweeplab: ") for line in warnings)
    assert "report('a', 'not a number') not reported" in warnings[0]
    assert "report('d', <Weird>) not reported: boom" in warnings[3]
    assert "report('', 1.0) not reported: a metric name needs 1 to 200 characters" in warnings[4]
    assert "step=-1): step dropped" in warnings[6]
    assert "progress('soon') not reported" in warnings[10]


def test_a_closed_stdout_does_not_end_the_training(make_trial: MakeTrial) -> None:
    code = (
        "import sys, sweeplab\nsys.stdout.close()\nsweeplab.report('a', 1)\n"
        "sys.stdout = None\nsweeplab.progress(1)\nsys.stderr.write('done')\n"
    )
    result = run_python(code, make_trial(NESTED))
    assert result.returncode == 0 and result.stderr == "done", result.stderr


def test_params_reads_both_forms(make_trial: MakeTrial) -> None:
    code = """
import json, sweeplab
print(json.dumps({
    "lr": sweeplab.param("lr"),
    "branch": sweeplab.param("optimizer"),
    "beta1": sweeplab.param("optimizer.beta1"),
    "depth": sweeplab.param("model.depth"),
    "use_bn": sweeplab.param("model.use_bn"),
    "layers": sweeplab.param("layers"),
    "absent": sweeplab.param("absent", default="fallback"),
    "nested": sweeplab.params(),
    "id": sweeplab.trial_id(),
    "dir": str(sweeplab.trial_dir()),
    "epochs": sweeplab.max_epochs(),
}))
mutable = sweeplab.params(); mutable["lr"] = 5
assert sweeplab.params()["lr"] == 0.01, "params() hands out copies"
"""
    env = make_trial(NESTED, SWEEPLAB_MAX_EPOCHS="12")
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "lr": 0.01, "branch": "adam", "beta1": 0.9, "depth": 3, "use_bn": True,
        "layers": [64, 32], "absent": "fallback", "nested": NESTED, "id": 7,
        "dir": env["SWEEPLAB_TRIAL_DIR"], "epochs": 12,
    }


def test_missing_param_names_the_key_and_lists_the_names(make_trial: MakeTrial) -> None:
    code = """
import sweeplab
try:
    sweeplab.param("optimizer.beta")
except KeyError as error:
    print(type(error).__name__, "|", error)
"""
    result = run_python(code, make_trial(NESTED))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ParamError | sweeplab.param('optimizer.beta'): no parameter")
    assert "(did you mean 'optimizer.beta1'?)" in result.stdout
    assert "available: layers, lr, model.depth, model.use_bn, optimizer, optimizer.beta1" \
        in result.stdout


def test_by_hand_defaults_work_and_no_default_is_a_clear_error() -> None:
    code = """
import sweeplab
print(sweeplab.param("lr", 0.1), sweeplab.params(), sweeplab.trial_id(), sweeplab.trial_dir(),
      sweeplab.max_epochs(20), sweeplab.max_epochs())
sweeplab.param("lr")
"""
    result = run_python(code, clean_env())
    assert result.returncode == 1
    assert result.stdout.strip() == "0.1 {} None None 20 None"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "sweeplab.NotATrialError: sweeplab.param('lr'): SWEEPLAB_PARAMS is not set"
    )
    assert "sweeplab.param('lr', default=...)" in last


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot open the file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"nested": {}}', "expected objects under 'nested' and 'dotted'"),
        ('{"nested": [], "dotted": {}}', "expected objects under 'nested' and 'dotted'"),
    ],
)
def test_unreadable_params_file_is_an_error_even_with_a_default(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "params.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_python("import sweeplab\nsweeplab.param('lr', default=1)",
                        clean_env(SWEEPLAB_PARAMS=str(path)))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"sweeplab.ParamsFileError: SWEEPLAB_PARAMS={path}: {message}"), last


def test_bad_env_numbers_fall_back_with_a_warning(make_trial: MakeTrial) -> None:
    code = "import sweeplab\nprint(sweeplab.max_epochs(20), sweeplab.trial_id())"
    result = run_python(code, make_trial(NESTED, SWEEPLAB_MAX_EPOCHS="ten", SWEEPLAB_TRIAL_ID="x"))
    assert result.returncode == 0
    assert result.stdout.strip() == "20 None"
    assert "SWEEPLAB_MAX_EPOCHS='ten' is not a whole number; ignored" in result.stderr


def test_reports_from_many_threads_never_interleave(make_trial: MakeTrial) -> None:
    code = """
import threading, sweeplab
def work(n):
    for i in range(300):
        sweeplab.report("m%d" % n, i * 0.5, step=i)
threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
"""
    result = run_python(code, make_trial(NESTED))
    assert result.returncode == 0, result.stderr
    reports = parse_lines(result.stdout.splitlines())
    assert len(reports) == 8 * 300
    assert not any(isinstance(r, ProtocolWarning) for r in reports)
    for n in range(8):
        steps = [r.step for r in reports if isinstance(r, MetricReport) and r.name == f"m{n}"]
        assert steps == list(range(300))


@pytest.mark.skipif(not PYTHON38.exists(), reason="no Python 3.8 interpreter on this machine")
def test_runs_on_python_3_8(make_trial: MakeTrial) -> None:
    code = """
import sys, sweeplab
assert sys.version_info[:2] == (3, 8)
sweeplab.report("acc", sweeplab.param("optimizer.beta1"), step=1)
sweeplab.progress(1, 2)
sweeplab.report("bad", "x")
"""
    result = run_python(code, make_trial(NESTED), python=str(PYTHON38))
    assert result.returncode == 0, result.stderr
    assert parse_lines(result.stdout.splitlines()) == [
        MetricReport("acc", 0.9, 1), ProgressReport(1, 2)
    ]


def test_sdk_is_one_stdlib_only_file() -> None:
    tree = ast.parse(SDK_FILE.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add((node.module or "").split(".")[0])
    import sys

    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
    assert "app" not in imported


def test_sdk_and_protocol_agree_on_names() -> None:
    sdk = load_sdk()
    for name in ("MARKER", "ENV_PARAMS", "ENV_TRIAL_ID", "ENV_TRIAL_DIR", "ENV_MAX_EPOCHS",
                 "ENV_CHECKPOINT_DIR", "ENV_RESTORE_DIR", "ENV_START_STEP", "CHECKPOINT_DIR",
                 "PUBLISHED_DIR", "MAX_NAME_CHARS", "MAX_STEP"):
        assert getattr(sdk, name) == getattr(protocol, name), name
    assert sdk.__doc__ is not None
    for form in ("sweeplab.report(", '#sweeplab {"metric"', "val_acc=([0-9.eE+-]+)",
                 "#Auptimizer:"):
        assert form in sdk.__doc__, form
