"""The example trial scripts, run for real and read with LineParser."""

from __future__ import annotations

import itertools
import math
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from protocol_support import EXAMPLES, PROCESS_TIMEOUT, parse_lines, trial_env

from app.engine.protocol import (
    MetricRegex,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
    render_command,
)
from app.remote.launcher import launch
from tests.helpers import wait_until

MakeTrial = Callable[..., dict[str, str]]
QUADRATIC = EXAMPLES / "quadratic" / "train.py"
QUADRATIC_PARAMS = {"x": 1.0, "y": -2.0, "optimizer": {"_name": "sgd", "momentum": 0.8}}


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
                          check=False, **kwargs)  # type: ignore[call-overload]


def test_quadratic_converges_to_the_bowl(make_trial: MakeTrial) -> None:
    env = make_trial(QUADRATIC_PARAMS, SWEEPLAB_MAX_EPOCHS="6", QUADRATIC_EPOCH_SECONDS="0")
    result = run([sys.executable, str(QUADRATIC)], env)
    assert result.returncode == 0, result.stderr
    reports = parse_lines(result.stdout.splitlines(), kpi="loss")
    losses = [r for r in reports if isinstance(r, MetricReport)]
    assert [r.step for r in losses] == [1, 2, 3, 4, 5, 6]
    assert all(a.value > b.value for a, b in itertools.pairwise(losses))
    optimizer_term = 0.1 * (1 - 0.8)
    assert losses[-1].value == pytest.approx(optimizer_term + 0.7**6)
    assert [r for r in reports if isinstance(r, ProgressReport)][-1] == ProgressReport(6, 6)


def test_quadratic_adam_branch_and_defaults(make_trial: MakeTrial) -> None:
    params = {"x": 3.0, "y": 0.0, "optimizer": {"_name": "adam", "beta1": 0.8}}
    env = make_trial(params, QUADRATIC_EPOCH_SECONDS="0")
    result = run([sys.executable, str(QUADRATIC)], env)
    losses = [r for r in parse_lines(result.stdout.splitlines()) if isinstance(r, MetricReport)]
    assert len(losses) == 20, "20 epochs without SWEEPLAB_MAX_EPOCHS"
    assert losses[-1].value == pytest.approx(4 + 4 + 0.1 * 0.1 + 0.7**20)


def test_quadratic_stops_cleanly_on_sigint(make_trial: MakeTrial, tmp_path: Path) -> None:
    """The example has no signal code of its own: started by the launcher from a
    Sweeplab that runs with SIGINT ignored (as under nohup), it still gets SIGINT."""
    env = make_trial(QUADRATIC_PARAMS, SWEEPLAB_MAX_EPOCHS="1000", QUADRATIC_EPOCH_SECONDS="0.05")
    trial_dir = tmp_path / "launched"
    trial_dir.mkdir()
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(QUADRATIC))}"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = launch(trial_dir, QUADRATIC.parent, command, env)
    finally:
        signal.signal(signal.SIGINT, previous)
    log = trial_dir / "output.log"
    try:
        wait_until(lambda: '"step": 2}' in log.read_text(), PROCESS_TIMEOUT, "epoch 2")
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=PROCESS_TIMEOUT) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    lines = log.read_text().splitlines()
    assert any(line.startswith("interrupted at epoch") for line in lines), lines[-3:]
    reports = parse_lines(lines)
    assert isinstance(reports[-1], MetricReport) and reports[-1].name == "loss"
    assert len([r for r in reports if isinstance(r, ProgressReport)]) < 1000


def test_shell_regex_example_through_a_rendered_command(make_trial: MakeTrial) -> None:
    folder = EXAMPLES / "shell-regex"
    command = render_command("bash train.sh --lr {lr} --layers {layers}",
                             {"lr": 0.003, "layers": 3}, "params.json")
    env = make_trial({"lr": 0.003, "layers": 3}, SWEEPLAB_MAX_EPOCHS="4",
                     SHELL_REGEX_EPOCH_SECONDS="0")
    result = run(["/bin/sh", "-c", command], env, cwd=folder)
    assert result.returncode == 0, result.stderr
    regex = MetricRegex.compile("loss", r"loss=([0-9.eE+-]+)", r"epoch=(\d+)")
    reports = parse_lines(result.stdout.splitlines(), kpi="loss", regexes=[regex])
    assert [r.step for r in reports if isinstance(r, MetricReport)] == [1, 2, 3, 4]
    gap = (math.log10(0.003) + 2.5) ** 2 * 0.2
    assert reports[-1] == MetricReport("loss", pytest.approx(0.1 + gap + 2.0 * 0.6**4, abs=1e-4), 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "abc"], "--lr must be a number > 0, got 'abc'"),
        (["--lr", "0"], "--lr must be a number > 0, got '0'"),
        (["--lr", "$(id)"], "--lr must be a number > 0, got '$(id)'"),
        (["--layers", "0"], "--layers must be a whole number >= 1, got '0'"),
        (["--layers"], "--layers needs a value"),
        (["--depth", "3"], "unknown argument '--depth'"),
    ],
)
def test_shell_regex_example_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = run(["bash", str(EXAMPLES / "shell-regex" / "train.sh"), *args],
                 {**os.environ, "SHELL_REGEX_EPOCH_SECONDS": "0"})
    assert result.returncode == 2
    assert message in result.stderr
    assert "epoch=" not in result.stdout


DIGITS_PARAMS = {
    "sgd": {"optimizer": {"_name": "sgd", "learning_rate_init": 0.05, "momentum": 0.9},
            "layers": 2, "units": 32, "alpha": 1e-4, "batch_size": 64},
    "adam": {"optimizer": {"_name": "adam", "learning_rate_init": 0.003, "beta_1": 0.9},
             "layers": 1, "units": 64, "alpha": 1e-3, "batch_size": 32},
}


@pytest.mark.slow
def test_digits_mlp_learns_with_both_optimizers(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    runs = {**DIGITS_PARAMS, "bad": {"optimizer": {"_name": "lbfgs"}}}
    processes = {  # all at once: most of each trial is importing scikit-learn
        name: subprocess.Popen(
            [sys.executable, str(EXAMPLES / "digits-mlp" / "train.py")],
            env=trial_env(tmp_path / name, params, SWEEPLAB_MAX_EPOCHS="8"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, params in runs.items()
    }
    outputs = {name: p.communicate(timeout=PROCESS_TIMEOUT) for name, p in processes.items()}
    assert processes["bad"].returncode == 1
    assert "digits-mlp: optimizer must be 'sgd' or 'adam', got 'lbfgs'" in outputs["bad"][1]
    for name in DIGITS_PARAMS:
        stdout, stderr = outputs[name]
        assert processes[name].returncode == 0, (name, stderr)
        reports = parse_lines(stdout.splitlines(), kpi="val_acc")
        assert not any(isinstance(r, ProtocolWarning) for r in reports)
        accuracy = [r for r in reports if isinstance(r, MetricReport) and r.name == "val_acc"]
        assert [r.step for r in accuracy] == list(range(1, 9)), name
        assert accuracy[-1].value > 0.85, (name, accuracy)
        assert reports[-1] == ProgressReport(8, 8)
