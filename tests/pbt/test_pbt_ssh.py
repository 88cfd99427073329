"""PBT over SSH with real sshd servers: each exploit continues on its donor's server,
whose trial helper copies the donor's checkpoint there; every segment is stored and
each runs once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.application.wiring import known_hosts
from app.engine.experiment import experiment_from_dict
from app.engine.trial import ExperimentState
from app.remote.ssh.profile import ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import TRAIN, check_run, pbt_fields
from tests.ssh.conftest import client_key, make_profile, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "make_profile", "sshd_factory", "workdir"]


def test_pbt_over_two_ssh_servers_copies_each_checkpoint_on_its_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    starts = tmp_path / "starts"
    roots = {"lab1": tmp_path / "work one", "lab2": tmp_path / "work two"}
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        trusted = known_hosts()
        for name, root in roots.items():
            server = sshd_factory()
            ServerProfiles(store).add(make_profile(server, name, workdir=str(root),
                                                   max_parallel=4))
            trusted.accept("127.0.0.1", server.port, server.host_key)
        code = write_code(tmp_path, TRAIN)
        doc = experiment_doc(code, hosts=["lab1", "lab2"],
                             **pbt_fields({"STARTS": str(starts), "PACE": "0.15"}, seed=4))
        config = experiment_from_dict(doc, code)
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=5.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=240, what="the run to end")
        assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
        segments = check_run(store, experiment.id, starts)
        exploits = [s for s in segments if s.is_exploit]
        assert exploits, "no trial exploited another"
        hosts = {t.id: t.host for t in store.list_trials(experiment.id)}
        assert set(hosts.values()) <= set(roots)
        for segment in exploits:
            assert segment.trial_dir is not None and segment.restore_from is not None
            # copied on the server where the donor's checkpoint is
            (root,) = [r for r in roots.values() if segment.restore_from.startswith(str(r))]
            assert segment.trial_dir.startswith(str(root))
            assert (Path(segment.trial_dir) / "restore" / "state.json").is_file()
