"""Two runs on one server share its GPUs: the trial helper locks a place per GPU on the
server, so a second executor (another experiment, program or machine) never puts a
trial on a GPU the first one fills; its trial moves to a free GPU or waits."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind, Snapshot
from app.remote.launcher import read_pid_file
from app.remote.pool import Pool
from app.remote.ssh.executor import SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.places import RemoteSlots
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import places_arg
from tests.helpers import wait_until
from tests.remote.remote_support import Events, spec
from tests.ssh.sshd import Sshd

WAIT = "{python} trial.py wait"
K = ProcessEventKind
ONE_GPU = "0, NVIDIA GeForce RTX 3090, 24576, 10, 0\n"


@pytest.fixture
def pair(sshd_factory: Callable[..., Sshd], gpu_bin: Path, tmp_path: Path,
         make_profile: Callable[..., ServerProfile]
         ) -> Iterator[Callable[[], tuple[SshExecutor, SshExecutor, ServerProfile]]]:
    """Two connected executors on one server (its GPUs: ``gpu_bin``'s ``gpus.csv``)."""
    made: list[SshExecutor] = []

    def factory() -> tuple[SshExecutor, SshExecutor, ServerProfile]:
        server = sshd_factory(gpus=gpu_bin)
        hosts = KnownHosts(tmp_path / "kh", system_file=None)
        hosts.accept("127.0.0.1", server.port, server.host_key)
        profile = make_profile(server, max_parallel=4)
        for _ in range(2):
            made.append(SshExecutor(profile, Secrets(), hosts, grace=2.0))
            made[-1].connect()
        return made[-2], made[-1], profile

    yield factory
    for executor in made:
        executor.close()


def holders(lock: Path) -> set[int]:
    """The processes that have ``lock`` open."""
    found = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == str(lock):
                found.add(int(fd.parts[2]))
    return found


def go(profile: ServerProfile, trial_id: int) -> None:
    (Path(profile.workdir) / "7" / str(trial_id) / "go").touch()


def test_a_full_gpu_makes_the_other_runs_trial_wait_then_start_there(
        pair: Callable[[], tuple[SshExecutor, SshExecutor, ServerProfile]],
        gpu_bin: Path, snap: Snapshot) -> None:
    (gpu_bin / "gpus.csv").write_text(ONE_GPU)
    first, second, profile = pair()
    mine, theirs = Events(first), Events(second)
    first.submit(spec(snap, WAIT, 1, gpus=1))
    mine.wait_line(1, "waiting 0")
    first.close()  # the app that started it is gone: the trial itself holds the place
    wrapper = read_pid_file(Path(profile.workdir) / "7" / "1")
    assert wrapper is not None
    lock = Path(profile.workdir) / ".sweeplab" / "slots" / "gpu0.0.lock"
    wait_until(lambda: holders(lock) and all(os.getpgid(pid) == wrapper.pid
                                             for pid in holders(lock)), 15,
               "only the trial's own processes to hold GPU 0's place")
    assert second.free_slots() == 1, "the second run cannot know before it tries"
    second.submit(spec(snap, WAIT, 2, gpus=1))
    theirs.pump(lambda: bool(theirs.of(2)), 15.0, "trial 2's first event")
    (pending,) = theirs.of(2)
    assert pending.kind is K.PENDING and pending.message == (
        "waiting for a GPU on lab1: GPU 0 is taken by another Sweeplab run")
    assert second.free_slots() == 0, "the held GPU counts as full"
    assert not (Path(profile.workdir) / "7" / "2").exists(), "nothing was set up for it"
    go(profile, 1)
    theirs.wait_line(2, "waiting 0", timeout=30.0)  # it looks again within a few seconds
    assert theirs.last(2, K.STARTED).gpus == (0,)
    assert [e.kind for e in theirs.of(2)].count(K.PENDING) == 1, "said once"
    go(profile, 2)
    theirs.wait_end(2)
    assert theirs.last(2, K.EXITED).exit_code == 0


def test_a_trial_moves_to_a_free_gpu_and_a_waiting_one_can_be_stopped(
        pair: Callable[[], tuple[SshExecutor, SshExecutor, ServerProfile]],
        snap: Snapshot) -> None:
    first, second, profile = pair()  # two GPUs, one trial each
    mine, theirs = Events(first), Events(second)
    first.submit(spec(snap, WAIT, 1, gpus=1))
    mine.wait_line(1, "waiting 0")
    assert mine.last(1, K.STARTED).gpus == (0,)
    second.submit(spec(snap, WAIT, 2, gpus=1))  # its own table says GPU 0 is free
    theirs.wait_line(2, "waiting 1")  # CUDA_VISIBLE_DEVICES=1
    assert theirs.last(2, K.STARTED).gpus == (1,)
    assert [e.kind for e in theirs.of(2)] == [K.STARTED, K.OUTPUT], "no wait to tell of"
    assert second.free_slots() == 0, "GPU 0 counts as full for a while"
    wait_until(lambda: second.free_slots() == 1, 15, "the held GPU to be tried again")
    second.submit(spec(snap, WAIT, 3, gpus=1))  # GPU 0 is still taken: it waits
    theirs.pump(lambda: bool(theirs.of(3)), 15.0, "trial 3's first event")
    assert theirs.of(3)[0].kind is K.PENDING
    second.stop(3)
    theirs.pump(lambda: any(e.kind is K.START_FAILED for e in theirs.of(3)), 15.0,
                "trial 3 to end")
    assert theirs.last(3, K.START_FAILED).message == "trial 3 was not started: it was stopped"
    assert not any(e.kind is K.STARTED for e in theirs.of(3))
    go(profile, 1)
    go(profile, 2)
    mine.wait_end(1)
    theirs.wait_end(2)


def test_a_trial_whose_gpu_another_run_took_goes_to_another_server_of_the_pool(
        pair: Callable[[], tuple[SshExecutor, SshExecutor, ServerProfile]],
        sshd_factory: Callable[..., Sshd], make_profile: Callable[..., ServerProfile],
        gpu_bin: Path, tmp_path: Path, snap: Snapshot) -> None:
    (gpu_bin / "gpus.csv").write_text(ONE_GPU)
    first, _, profile = pair()
    mine = Events(first)
    first.submit(spec(snap, WAIT, 1, gpus=1))  # another run fills lab1's one GPU
    mine.wait_line(1, "waiting 0")
    other = sshd_factory(gpus=gpu_bin)
    hosts = KnownHosts(tmp_path / "kh", system_file=None)  # knows lab1 already
    hosts.accept("127.0.0.1", other.port, other.host_key)
    lab2 = make_profile(other, name="lab2", workdir=str(tmp_path / "lab2"))
    pool = Pool(lambda events: [SshExecutor(server, Secrets(), hosts, grace=2.0, events=events)
                                for server in (profile, lab2)])
    try:
        for host in pool.hosts:
            host.connect()  # type: ignore[attr-defined]
        ours = Events(pool)
        pool.submit(replace(spec(snap, WAIT, 2, gpus=1), avoid_hosts=("lab2",)))  # lab1 first
        ours.pump(lambda: bool(ours.of(2)), 15.0, "trial 2's first event")
        (returned,) = ours.of(2)
        assert (returned.kind, returned.host) == (K.RETURNED, "lab1")
        assert returned.message == ("nothing was started on lab1: GPU 0 is taken by "
                                    "another Sweeplab run")
        assert not (Path(profile.workdir) / "7" / "2").exists(), "nothing was set up on lab1"
        pool.submit(replace(spec(snap, WAIT, 2, gpus=1), avoid_hosts=("lab1",)))
        ours.wait_line(2, "waiting 0")
        assert ours.last(2, K.STARTED).host == "lab2"
        (tmp_path / "lab2" / "7" / "2" / "go").touch()
        ours.wait_end(2)
    finally:
        pool.close()
    go(profile, 1)
    mine.wait_end(1)


def test_held_gpus_count_as_full_for_a_while_and_only_known_gpus_are_marked() -> None:
    now = [100.0]
    slots = RemoteSlots([0, 1], 2, 4, "lab1", clock=lambda: now[0])
    assert slots.mark_held("gpu1", seconds=5.0) == 1
    assert slots.mark_held("gpu7") is None and slots.mark_held("cpu") is None
    assert slots.free() == 2 and slots.claim(1) == (0,)
    now[0] += 5.0
    assert slots.free() == 3 and slots.claim(1) == (1,)
    assert places_arg((0, 3), 2) == "gpu0:2 gpu3:2"
    assert places_arg((), 2) == "" and places_arg(tuple(range(7)), 1) == ""


def test_a_lock_file_that_cannot_be_opened_fails_the_start_in_plain_words(
        pair: Callable[[], tuple[SshExecutor, SshExecutor, ServerProfile]],
        gpu_bin: Path, snap: Snapshot) -> None:
    (gpu_bin / "gpus.csv").write_text(ONE_GPU)
    first, _, profile = pair()
    lock = Path(profile.workdir) / ".sweeplab" / "slots" / "gpu0.0.lock"
    lock.mkdir(parents=True)  # a folder where the lock file belongs
    events = Events(first)
    first.submit(spec(snap, WAIT, 1, gpus=1))
    events.wait_end(1)
    assert events.last(1, K.START_FAILED).message.startswith(
        f"trial 1 could not start on lab1: cannot open the lock file {lock}")
    assert first.free_slots() == 1
