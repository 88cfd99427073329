"""PBT over SSH with real sshd servers: each exploit continues on its donor's server,
whose trial helper copies the donor's checkpoint there; every segment is stored and
each runs once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.application.wiring import known_hosts
from app.engine.experiment import experiment_from_dict
from app.engine.pbt import Segment
from app.engine.trial import ExperimentState
from app.remote.ssh.profile import ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import TRAIN, check_run, pbt_fields
from tests.ssh.conftest import client_key, make_profile, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "make_profile", "sshd_factory", "workdir"]

STEPS = 16
"""Long enough that an exploit decided from a line read late (a loaded machine) still
finds its trial running."""


def _run(tmp_path: Path, sshd_factory: Callable[..., Sshd],
         make_profile: Callable[..., ServerProfile], max_parallel: int,
         seed: int) -> tuple[list[Segment], dict[str, Path]]:
    """A PBT run over two servers with separate work folders, ``max_parallel`` trials
    each; returns its segments (checked by ``check_run``) and each server's folder."""
    starts = tmp_path / "starts"
    roots = {"lab1": tmp_path / "work one", "lab2": tmp_path / "work two"}
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        trusted = known_hosts()
        for name, root in roots.items():
            server = sshd_factory()
            ServerProfiles(store).add(make_profile(server, name, workdir=str(root),
                                                   max_parallel=max_parallel))
            trusted.accept("127.0.0.1", server.port, server.host_key)
        code = write_code(tmp_path, TRAIN)
        doc = experiment_doc(code, hosts=["lab1", "lab2"],
                             **pbt_fields({"STARTS": str(starts), "PACE": "0.3"}, seed=seed,
                                          steps=STEPS))
        config = experiment_from_dict(doc, code)
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=5.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=240, what="the run to end")
        assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
        segments = check_run(store, experiment.id, starts, STEPS)
        assert {t.host for t in store.list_trials(experiment.id)} <= set(roots)
    exploits = [s for s in segments if s.is_exploit]
    assert exploits, "no trial exploited another"
    for segment in exploits:
        assert segment.trial_dir is not None
        assert (Path(segment.trial_dir) / "restore" / "state.json").is_file()
    return exploits, roots


def _root(path: str | None, roots: dict[str, Path]) -> Path:
    assert path is not None
    (root,) = [r for r in roots.values() if path.startswith(str(r))]
    return root


def test_pbt_over_two_ssh_servers_copies_each_checkpoint_on_its_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    exploits, roots = _run(tmp_path, sshd_factory, make_profile, max_parallel=4, seed=4)
    for segment in exploits:  # the donor's server had room: it runs there, copied there
        assert _root(segment.trial_dir, roots) == _root(segment.restore_from, roots)


def test_a_checkpoint_goes_to_another_server_through_the_app_when_its_own_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    # seed 2: the worst trial (lr 0.14, on lab1) and the best (0.91, on lab2) differ
    exploits, roots = _run(tmp_path, sshd_factory, make_profile, max_parallel=2, seed=2)
    across = [s for s in exploits
              if _root(s.trial_dir, roots) != _root(s.restore_from, roots)]
    assert across, "no exploit took a checkpoint from the other (full) server"
    for segment in across:  # unpacked there; the archive sent is gone
        assert (Path(segment.trial_dir or "") / "restore" / "state.json").is_file()
    assert not list(tmp_path.glob("work */.sweeplab/restore-*.tgz"))
