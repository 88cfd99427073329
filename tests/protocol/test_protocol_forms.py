"""Every way of reporting delivers a metric, each from a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from protocol_support import parse_lines

from app.engine.protocol import MetricRegex, MetricReport, render_command

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


def test_auptimizer_style_script_gets_params_file_as_last_argument(
    make_trial: Callable[..., dict[str, str]]
) -> None:
    env = make_trial({"x": 0.5})
    code = ("import json, sys; p = json.load(open(sys.argv[-1]))['dotted']; "
            "print('\\n#Auptimizer:%s' % (p['x'] * 2), file=sys.stderr)")
    template = "{python} -c {code} {params_file}"
    command = render_command(template, {"python": sys.executable, "code": code},
                             env["SWEEPLAB_PARAMS"])
    result = subprocess.run(["/bin/sh", "-c", command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout
    assert parse_lines(result.stdout.splitlines(), kpi="score") == [MetricReport("score", 1.0)]
