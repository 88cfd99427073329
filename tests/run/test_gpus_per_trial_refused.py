"""``gpus_per_trial`` above every host's GPU count is refused before a run stores
anything, naming each host's count; a host whose count is not known before it connects
(a server that probes its GPUs, a Slurm cluster) may have enough, so it is not refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.application.wiring import gpu_problem, store_new_experiment
from app.engine.experiment import ExperimentConfig, ExperimentError, experiment_from_dict
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.profile import ServerProfile
from app.store.store import Store
from tests.helpers import experiment_doc

TWO_GPUS = "0, NVIDIA H100, 81559, 10, 0\n1, NVIDIA H100, 81559, 10, 0\n"


@pytest.fixture
def two_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has two GPUs (an ``nvidia-smi`` on PATH says so)."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!/bin/sh\nprintf '{TWO_GPUS}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:/usr/bin:/bin")


def _config(tmp_path: Path, gpus: int, hosts: list[str]) -> ExperimentConfig:
    config = experiment_from_dict(experiment_doc(tmp_path, gpus_per_trial=gpus), tmp_path)
    return dataclasses.replace(config, hosts=tuple(hosts))


@pytest.mark.usefixtures("two_gpus")
def test_each_known_count_is_named_when_none_is_enough(tmp_path: Path) -> None:
    lab = ServerProfile("lab", "h", "u", gpus=(0,))
    problem = gpu_problem(_config(tmp_path, 3, ["local", "lab"]), [lab])
    assert problem is not None and str(problem) == (
        "gpus_per_trial: each trial asks for 3 GPU(s), but no host has that many: "
        "local has 2, lab has 1")
    assert gpu_problem(_config(tmp_path, 2, ["local", "lab"]), [lab]) is None
    probed = ServerProfile("probed", "h", "u")  # its GPUs are found when it connects
    assert gpu_problem(_config(tmp_path, 3, ["local", "probed"]), [probed]) is None
    hpc = ClusterProfile("hpc")  # Slurm grants GPUs
    assert gpu_problem(_config(tmp_path, 3, ["local", "hpc"]), [hpc]) is None


@pytest.mark.usefixtures("two_gpus")
def test_a_refused_run_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        with pytest.raises(ExperimentError, match="local has 2"):
            store_new_experiment(store, "exp", _config(tmp_path, 3, ["local"]))
        assert store.list_experiments() == []
        assert not (tmp_path / "home" / "snapshots").exists()  # checked before packing
