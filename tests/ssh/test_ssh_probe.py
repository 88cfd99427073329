"""probe_server against real sshd: a plain-words report, ok only if trials could run."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from app.remote.ssh.hostkeys import KnownHosts, fingerprint
from app.remote.ssh.probe import STEP_NAMES, probe_server
from app.remote.ssh.profile import Secrets, ServerProfile
from tests.ssh.sshd import Sshd, free_port


def test_a_good_server_with_gpus(
    sshd_factory: Callable[..., Sshd], gpu_bin: Path, make_profile: Callable[..., ServerProfile],
    tmp_path: Path,
) -> None:
    server = sshd_factory(gpus=gpu_bin)
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    activate = tmp_path / "activate"
    activate.write_text("export SWEEPLAB_PROBE=1\n")
    profile = make_profile(server, setup=f"source '{activate}'", gpus=(1,),
                           allow_busy_gpus=True)
    report = probe_server(profile, Secrets(), hosts)
    assert report.ok and [step.name for step in report.steps] == list(STEP_NAMES)
    details = {step.name: step.detail for step in report.steps}
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    assert details["python"].startswith(f"{sys.executable} is {version}")
    assert details["work directory"] == f"{profile.workdir} is writable"
    assert details["GPUs"] == ("found 0: NVIDIA GeForce RTX 3090, 1: NVIDIA GeForce RTX 3090;"
                               " trials use [1]")
    assert [gpu.index for gpu in report.gpus] == [0, 1]
    text = str(report)
    assert text.splitlines()[0] == "Server lab1: trials can run there."
    assert "FAIL" not in text and Path(profile.workdir).is_dir()


def test_problems_are_failed_steps_in_plain_words(
    ssh_server: Sshd, make_profile: Callable[..., ServerProfile], known_hosts: KnownHosts,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    profile = make_profile(ssh_server, workdir=str(blocker / "work"), setup="false",
                           python="/no/such/python", gpus=(0,))
    report = probe_server(profile, Secrets(), known_hosts)
    assert not report.ok
    failed = {step.name: step.detail for step in report.steps if not step.ok}
    assert set(failed) == {"work directory", "python", "setup command", "GPUs"}
    assert failed["work directory"].startswith(f"cannot create or write '{blocker}/work'")
    assert failed["setup command"] == "'false' failed with status 1"
    assert failed["python"].startswith("'/no/such/python' does not run:")
    assert "no GPUs" in failed["GPUs"] and "asks for GPUs [0]" in failed["GPUs"]
    assert "nvidia-smi is not installed" in failed["GPUs"]
    text = str(report)
    assert "trials cannot run there" in text and text.count("\n  FAIL  ") == 4
    cpu_only = dataclasses.replace(make_profile(ssh_server), gpus=None)
    fine = probe_server(cpu_only, Secrets(), known_hosts)
    assert fine.ok and "trials run on CPU" in str(fine)


def test_unknown_host_key_unreachable_and_refused_login(
    ssh_server: Sshd, profile: ServerProfile, tmp_path: Path
) -> None:
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    report = probe_server(profile, Secrets(), hosts)
    assert not report.ok and [s.ok for s in report.steps] == [True, False]
    assert report.unknown_host_key is not None
    shown = report.unknown_host_key.fingerprint
    assert shown == fingerprint(ssh_server.host_key) and shown in report.steps[1].detail
    accepted = probe_server(profile, Secrets(), hosts, accept_fingerprint=shown)
    assert accepted.ok and accepted.unknown_host_key is None

    nobody = dataclasses.replace(profile, port=free_port())
    down = probe_server(nobody, Secrets(), hosts, timeout=5)
    assert [s.name for s in down.steps] == ["reachable"] and not down.ok
    assert "Connection refused" in down.steps[0].detail

    stranger = dataclasses.replace(profile, key_file=str(tmp_path / "missing-key"))
    refused = probe_server(stranger, Secrets(), hosts)
    assert [(s.name, s.ok) for s in refused.steps] == [
        ("reachable", True), ("host key", True), ("authentication", False)]
    assert "missing-key does not exist" in refused.steps[2].detail
