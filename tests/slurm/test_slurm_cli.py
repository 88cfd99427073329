"""``sweeplab clusters add | ls | show | test | rm`` in this process, on a real SQLite file;
``test`` against the real test Slurm (a good cluster, a down partition, a missing one)."""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest
from rich.console import Console

from app.application.wiring import resolve_hosts
from app.commands import console as console_module
from app.engine.experiment import ExperimentError, experiment_from_dict
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.profile import ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.servers import ServerProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import CliRun, fresh_cli

Run = CliRun


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:
    """``sweeplab ARGS`` in this process with a fresh data directory: (code, out, err)."""
    monkeypatch.setattr(console_module, "console", Console(width=200))
    import app.commands.clusters_cmd as clusters_cmd
    monkeypatch.setattr(clusters_cmd, "console", console_module.console)
    return fresh_cli(tmp_path / "home", monkeypatch, capsys)


def _db(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'home' / 'sweeplab.db'}")


def test_add_list_show_remove(run: Run, tmp_path: Path) -> None:
    code, out, err = run("clusters", "add", "hpc", "--partition", "gpu", "--account", "lab",
                         "--cpus", "4", "--mem", "16G", "--gpus", "1", "--max-parallel", "20",
                         "--setup", "module load slurm", "--sbatch-arg=--constraint=a100")
    assert (code, err) == (0, "")
    assert out == "saved cluster hpc (login: this machine, partition: gpu)\n"
    with _db(tmp_path) as store:
        assert ClusterProfiles(store).get("hpc") == ClusterProfile(
            "hpc", partition="gpu", account="lab", cpus_per_trial=4, memory="16G",
            gpus_per_trial=1, max_parallel=20, setup="module load slurm",
            sbatch_args=("--constraint=a100",))
    code, out, _ = run("clusters", "ls")
    assert code == 0 and "hpc" in out and "4 CPU, 16G memory, GPUs: 1" in out
    code, out, _ = run("clusters", "show", "hpc")
    assert code == 0 and "sbatch args:  --constraint=a100" in out
    assert "login:        this machine" in out
    assert run("clusters", "rm", "hpc")[:2] == (0, "removed cluster hpc (jobs it has in "
                                                   "Slurm are not touched)\n")
    code, _, err = run("clusters", "show", "hpc")
    assert code == 2 and "no cluster named 'hpc'" in err
    assert run("clusters", "ls")[1].startswith("no clusters saved in sqlite:///")


def test_bad_input_is_named(run: Run, tmp_path: Path) -> None:
    code, _, err = run("clusters", "add", "hpc", "--mem", "lots", "--cpus", "0")
    assert code == 2
    assert err.splitlines() == [
        "error: cluster 'hpc': CPUs per trial must be >= 1, got 0",
        "error: cluster 'hpc': memory must look like 4G, 500M or 2048 (megabytes), got 'lots'"]
    code, _, err = run("clusters", "add", "hpc", "--login", "nosuch")
    assert code == 2 and "--login: no saved server named 'nosuch' (saved: none)" in err
    with _db(tmp_path) as store:
        ServerProfiles(store).add(ServerProfile("box", "127.0.0.1", "me"))
    code, _, err = run("clusters", "add", "box")
    assert code == 2 and "a server named 'box' already exists" in err
    assert run("clusters", "add", "hpc")[0] == 0
    code, _, err = run("clusters", "add", "hpc")
    assert code == 2 and "a cluster named 'hpc' already exists" in err


def test_hosts_may_name_a_cluster_and_unknown_names_are_refused(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        ClusterProfiles(store).add(ClusterProfile("hpc"))
        ClusterProfiles(store).add(ClusterProfile("remote", login="gone"))
        doc = {"version": 1, "name": "e", "code_dir": str(tmp_path), "command": "true",
               "kpi": {"name": "loss"}, "space": {"version": 1, "space": []}}
        config = experiment_from_dict({**doc, "hosts": ["local", "hpc"]}, tmp_path)
        assert resolve_hosts(store, config) == [ClusterProfile("hpc")]
        for hosts, message in ((["nope"], "unknown host 'nope': not a saved server or "
                                          "cluster (known: local, hpc, remote)"),
                               (["remote"], "cluster 'remote' logs in through the server "
                                            "'gone', which is not saved")):
            config = experiment_from_dict({**doc, "hosts": hosts}, tmp_path)
            with pytest.raises(ExperimentError, match=re.escape(message)):
                resolve_hosts(store, config)


def test_a_name_both_kinds_have_in_an_older_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with Store(f"sqlite:///{path}") as store:
        ServerProfiles(store).add(ServerProfile("box", "127.0.0.1", "me"))
        ClusterProfiles(store).add(ClusterProfile("hpc"))
    with sqlite3.connect(path) as db:  # as a Sweeplab from before the cross-kind check
        db.execute("UPDATE cluster_profiles SET name = 'box' WHERE name = 'hpc'")
    with Store(f"sqlite:///{path}") as store:
        doc = {"version": 1, "name": "e", "code_dir": str(tmp_path), "command": "true",
               "kpi": {"name": "loss"}, "space": {"version": 1, "space": []},
               "hosts": ["box"]}
        config = experiment_from_dict(doc, tmp_path)
        with pytest.raises(ExperimentError, match=re.escape(
                "'box' is both a saved server and a saved cluster; rename one "
                "(`sweeplab clusters rm box`)")):
            resolve_hosts(store, config)


def test_test_reports_each_check_against_the_real_slurm(
        run: Run, tmp_path: Path, slurm: LocalSlurm) -> None:
    work = str(tmp_path / "cluster work")
    run("clusters", "add", "good", "--workdir", work, "--python", sys.executable)
    run("clusters", "add", "waiting", "--workdir", work, "--partition", "down")
    run("clusters", "add", "nowhere", "--workdir", work, "--partition", "nosuch")
    run("clusters", "add", "nomodule", "--workdir", work, "--setup", "module load slurm")
    code, out, _ = run("clusters", "test", "good")
    assert code == 0, out
    assert out.splitlines()[:7] == [
        "Cluster good: trials can run there.",
        "  ok    login node: this machine (sbatch runs here)",
        "  ok    setup command: none",
        "  ok    Slurm commands: sbatch, squeue and scancel found",
        "  ok    controller: slurmctld answers",
        "  ok    partition: main is up (the default)",
        f"  ok    work directory: {work} (it must be on a file system the compute nodes "
        "share)"]
    assert out.splitlines()[7].startswith("  queue: ")
    code, out, _ = run("clusters", "test", "waiting")
    assert code == 1 and "FAIL  partition: down is down: jobs would wait in the queue" in out
    code, out, _ = run("clusters", "test", "nowhere")
    assert code == 1 and "FAIL  partition: no partition 'nosuch' (there are: down, main)" in out
    code, out, _ = run("clusters", "test", "nomodule")
    assert code == 1
    failed = next(line for line in out.splitlines() if line.startswith("  FAIL"))
    assert failed.startswith("  FAIL  setup command: ") and "module: not found; " in failed
    assert failed.endswith("sweeplab: the cluster's setup command failed with status 127")
