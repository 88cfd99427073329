"""render_command and placeholders: substitution, quoting, and what a shell receives."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine.experiment import experiment_from_dict
from app.engine.protocol import placeholders, render_command, value_text

ARGV_DUMP = "import json, sys; print(json.dumps(sys.argv[1:]))"
DANGEROUS = [
    "'; rm -rf ~; '",
    "$(id)",
    "`id`",
    "a\nb",
    "line1\n; touch {marker}\n",
    "\"double\" 'single' \\back",
    "$HOME ${HOME} $((1+1))",
    "*",
    "~",
    "a b\tc",
    "",
    "-n",
    "--lr=1; echo pwned",
    "& echo pwned &",
    "| cat /etc/passwd",
    "> {marker}",
    "héllo wörld ✓",
    "{not_a_placeholder}",
]


def sh(command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, cwd=cwd, timeout=30,
                          check=False)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("adam", "adam"),
        (3, "3"),
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (2.0, "2.0"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([64, 32], "[64,32]"),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        (np.float64(0.1), "0.1"),
        (np.int64(7), "7"),
        (np.bool_(True), "true"),
        ([np.int64(1), np.float32(0.5)], "[1,0.5]"),
        (Path("/tmp/x"), "/tmp/x"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
    ],
)
def test_value_text(value: Any, text: str) -> None:
    assert value_text(value) == text


def test_renders_dotted_names_and_params_file() -> None:
    dotted = {"lr": 0.01, "optimizer": "adam", "optimizer.beta1": 0.9, "layers": [64, 32]}
    command = render_command(
        "python train.py --lr {lr} --opt {optimizer} --beta1 {optimizer.beta1} "
        "--layers {layers} {params_file}",
        dotted,
        "/runs/trial 7/params.json",
    )
    assert command == (
        "python train.py --lr 0.01 --opt adam --beta1 0.9 --layers '[64,32]' "
        "'/runs/trial 7/params.json'"
    )


def test_double_braces_are_literal() -> None:
    command = render_command("awk '{{print $1}}' {file} }}{{", {"file": "a b"}, "p.json")
    assert command == "awk '{print $1}' 'a b' }{"
    assert placeholders("awk '{{print $1}}' {file} }}{{") == ["file"]


def test_placeholders_in_first_use_order_without_repeats() -> None:
    assert placeholders("{b} {a.x} {b} {params_file}") == ["b", "a.x", "params_file"]
    assert placeholders("no placeholders") == []


def test_unknown_placeholder_names_it_and_lists_the_known_names() -> None:
    with pytest.raises(ValueError) as caught:
        render_command("train --lr {optimizer.lrr}", {"optimizer.lr": 1, "layers": 2}, "p")
    message = str(caught.value)
    assert "unknown placeholder {optimizer.lrr}" in message
    assert "did you mean {optimizer.lr}?" in message
    assert "known names: layers, optimizer.lr, params_file" in message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("echo {lr", "unmatched '{' at position 5; write '{{' for a literal brace"),
        ("echo lr}", "unmatched '}' at position 7; write '}}'"),
        ("echo {} x", "empty placeholder at position 5"),
        ("echo { } x", "empty placeholder at position 5"),
        ("echo {a{b}}", "unmatched '{' at position 5"),
    ],
)
def test_malformed_templates_are_refused_with_the_position(template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        render_command(template, {"lr": 1, "b": 2}, "p")
    assert message in str(caught.value)
    with pytest.raises(ValueError):
        placeholders(template)


def test_params_file_clash_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\{params_file\} is also a parameter's name"):
        render_command("run {params_file}", {"params_file": "x"}, "p.json")
    assert render_command("run {lr}", {"params_file": "x", "lr": 1}, "p.json") == "run 1"


def test_aup_params_names_the_auptimizer_file() -> None:
    command = render_command("{python} train.py {aup_params}", {"python": "py"},
                             "/t 1/params.json", "/t 1/auptimizer.json")
    assert command == "py train.py '/t 1/auptimizer.json'"
    with pytest.raises(ValueError, match=r"\{aup_params\} is also a parameter's name"):
        render_command("run {aup_params}", {"aup_params": 1}, "p.json", "a.json")


def test_an_experiment_may_use_aup_params(tmp_path: Path) -> None:
    doc = {"version": 1, "name": "aup", "code_dir": str(tmp_path),
           "command": "{python} train.py {aup_params}", "kpi": {"name": "loss"},
           "space": {"version": 1, "space": [{"name": "x", "type": "number", "default": 1}]}}
    assert experiment_from_dict(doc, tmp_path).command.endswith("{aup_params}")


def test_template_must_be_text() -> None:
    with pytest.raises(ValueError, match="command template must be a string, got bytes"):
        render_command(b"echo", {}, "p")  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", DANGEROUS)
def test_the_script_receives_exactly_the_value(raw: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = raw.replace("{marker}", str(marker))
    exe = shlex.quote(sys.executable).replace("{", "{{").replace("}", "}}")
    code = shlex.quote(ARGV_DUMP).replace("{", "{{").replace("}", "}}")
    command = render_command(
        exe + " -c " + code + " --v {v} {params_file}", {"v": value}, str(tmp_path / "p s.json")
    )
    result = sh(command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["--v", value, str(tmp_path / "p s.json")]
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == [], "nothing was created by the value"


def test_printf_reproduces_every_dangerous_value() -> None:
    values = {f"v{i}": value for i, value in enumerate(DANGEROUS)}
    template = "printf '%s\\0' " + " ".join(f"{{{name}}}" for name in values)
    result = sh(render_command(template, values, "p"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").split("\0")[:-1] == list(values.values())
