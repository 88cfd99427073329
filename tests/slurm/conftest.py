"""Fixtures for the Slurm tests: one real, throwaway single-node Slurm per session.

The cluster (:class:`~devtools.localcluster.LocalSlurm`: munged, slurmctld and
slurmd with private state) starts on the first test that asks for it and is stopped,
by pid, after the last. Clients find it through ``SLURM_CONF``. Where this machine
cannot run slurmd at all, every Slurm test is skipped with the exact reason, and the
end of the run says so in a banner.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.records import Snapshot
from app.remote.snapshot import take_snapshot
from devtools.localcluster import LocalSlurm, SlurmUnavailable

TRIAL_SCRIPT = Path(__file__).parents[1] / "remote" / "trials" / "trial.py"
_SKIPPED: list[str] = []


@pytest.fixture(scope="session")
def slurm() -> Iterator[LocalSlurm]:
    """The session's Slurm, with ``SLURM_CONF`` set for this process and its children."""
    cluster = LocalSlurm(cpus=8)
    try:
        cluster.start()
    except SlurmUnavailable as exc:
        _SKIPPED.append(str(exc))
        pytest.skip(f"SLURM TESTS SKIPPED: this machine cannot run slurmd: {exc}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    yield cluster
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    cluster.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the Slurm tests did not run, and why."""
    if _SKIPPED:
        terminalreporter.section("SLURM TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.line(f"this machine cannot run slurmd: {_SKIPPED[0]}", red=True)


@pytest.fixture(scope="session")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A code snapshot holding the shared test trial script (``trial.py MODE``)."""
    code = tmp_path_factory.mktemp("code")
    shutil.copy(TRIAL_SCRIPT, code / "trial.py")
    return take_snapshot(code, tmp_path_factory.mktemp("snapshots"))


PYTHON = sys.executable
