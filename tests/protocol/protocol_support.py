"""Helpers for the trial-protocol tests: real trial processes, real params.json files.

Imported by name (`from protocol_support import ...`); the module name is unique so
it cannot clash with helpers in other test folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app.engine.params import params_document
from app.engine.protocol import LineParser, Report
from app.sdk import SDK_DIR

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
OUTPUTS = REPO / "tests" / "data" / "outputs"
PROCESS_TIMEOUT = 60.0


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any SWEEPLAB_* variable, the SDK on PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SWEEPLAB_")}
    env["PYTHONPATH"] = str(SDK_DIR)
    env.update(extra)
    return env


def trial_env(trial_dir: Path, nested: Mapping[str, Any], **extra: str) -> dict[str, str]:
    """A trial's environment, with ``params.json`` written the way the app writes it."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    params_file = trial_dir / "params.json"
    params_file.write_text(json.dumps(params_document(nested)), encoding="utf-8")
    settings = {
        "SWEEPLAB_PARAMS": str(params_file),
        "SWEEPLAB_TRIAL_ID": "7",
        "SWEEPLAB_TRIAL_DIR": str(trial_dir),
    }
    return clean_env(**{**settings, **extra})


def run_python(code: str, env: Mapping[str, str], *, python: str = sys.executable,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` to the end and capture its output as text."""
    return subprocess.run(
        [python, "-c", code], env=dict(env), cwd=cwd, capture_output=True, text=True,
        timeout=PROCESS_TIMEOUT, check=False,
    )


def parse_lines(
    lines: Iterable[str], kpi: str = "kpi", regexes: Iterable[Any] = ()
) -> list[Report]:
    """Every report in ``lines``, in order."""
    parser = LineParser(kpi, list(regexes))
    return [report for line in lines for report in parser.parse(line)]


def log_lines(data: bytes) -> list[str]:
    """Split raw log bytes the way executors do: on ``\\n``, UTF-8 with replacement."""
    return [part.decode("utf-8", errors="replace") for part in data.split(b"\n")]
