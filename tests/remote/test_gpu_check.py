"""``scripts/gpu-check``: no driver is not a pass; the whole check on a fake GPU machine
(``tests/remote/fake_gpu.py``: a fake driver and a fake nvidia-smi that agree); its
checks on recorded answers. The ctypes calls to a real ``libcuda`` run only on a GPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "scripts" / "gpu-check"
FAKE = Path(__file__).resolve().parent / "fake_gpu.py"
H100 = {"name": "NVIDIA H100 80GB HBM3", "total_mib": 81559, "driver_total_mib": 81090,
        "reserved_mib": 500}


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


check = load_check()


def run_check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WRAPPER)], env={**env, "GPU_CHECK_PYTHON": sys.executable}, cwd=cwd,
                          capture_output=True, text=True, timeout=170, check=False)


def fake_machine(tmp_path: Path, bug: str | None = None) -> dict[str, str]:
    """The environment of a fake machine with two H100s (fake nvidia-smi first on PATH)."""
    state = tmp_path / "state"
    state.mkdir()
    gpus = [{**H100, "index": index, "uuid": f"GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd",
             "pci": f"00000000:{0x19 + index:02X}:00.0"} for index in (0, 1)]
    box = tmp_path / "machine.json"
    box.write_text(json.dumps({"driver": "550.54.15", "state": str(state), "gpus": gpus,
                               "bug": bug}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" nvidia-smi "$@"\n')
    smi.chmod(0o755)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CUDA_", "SWEEPLAB_"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_GPU_MACHINE=str(box),
               GPU_CHECK_FAKE_DRIVER=str(FAKE), SWEEPLAB_HOME=str(tmp_path / "home"))
    return env


def test_without_a_driver_it_says_so_and_does_not_pass(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GPU_CHECK")}
    env.update(PATH="/usr/bin:/bin", GPU_CHECK_LIBCUDA=str(tmp_path / "libcuda.so.1"))
    result = run_check(env, tmp_path)
    assert result.returncode == check.EXIT_NO_GPU == 3, result.stdout + result.stderr
    assert result.stdout.startswith(
        f"gpu-check: no NVIDIA driver here: {tmp_path / 'libcuda.so.1'} cannot be loaded")
    assert "nvidia-smi is not on PATH" in result.stdout
    assert "Nothing was checked; this is not a pass (exit status 3)." in result.stdout
    assert "PASS" not in result.stdout


def test_a_trial_without_a_driver_reports_why(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GPU_CHECK")}
    env.update(GPU_CHECK_DIR=str(tmp_path), SWEEPLAB_TRIAL_ID="7", CUDA_VISIBLE_DEVICES="1",
               GPU_CHECK_LIBCUDA=str(tmp_path / "nothing.so"))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check_trial.py")],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    record = json.loads((tmp_path / "trial-7.json").read_text())
    assert record["cuda_visible_devices"] == "1" and record["devices"] == []
    assert record["error"].startswith(
        f"cannot load the NVIDIA driver library {tmp_path / 'nothing.so'}")


@pytest.mark.slow
def test_the_whole_check_passes_on_a_fake_machine_that_is_right(tmp_path: Path) -> None:
    result = run_check(fake_machine(tmp_path), tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "gpu-check: GPUs: 0: NVIDIA H100 80GB HBM3, 1: NVIDIA H100 80GB HBM3" in out
    assert "FAKE DRIVER" in out and "driver 550.54.15" in out
    for line in ("the first 4 trials hold every place at once: 4 trials held a GPU",
                 "GPU 0: memory used rose by what its 2 trials took",
                 "GPU 1: load read while its trials keep it busy",
                 "GPU 1: nvidia-smi lists at most 2 trial processes",
                 "every trial ran and reported: 6 of 6 trials reported",
                 "GPU 0: 2 trials shared it: 2 held it at once",
                 "GPU 1: at most 2 trials at once: 2 held it at once"):
        assert f"  pass  {line}" in out, out
    assert out.rstrip().splitlines()[-1].startswith("gpu-check: PASS: ")


@pytest.mark.slow
def test_a_driver_that_ignores_cuda_visible_devices_fails_the_check(tmp_path: Path) -> None:
    result = run_check(fake_machine(tmp_path, bug="ignore_visible"), tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "FAIL  trial 1: the driver shows it exactly its GPU: saw ['GPU-00000000" in out
    assert out.rstrip().splitlines()[-1].startswith("gpu-check: FAIL: ")


@pytest.mark.slow
def test_a_trial_that_did_not_report_is_named_with_why(tmp_path: Path) -> None:
    result = run_check(fake_machine(tmp_path, bug="crash_6"), tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    line = next(line for line in out.splitlines() if "every trial ran and reported" in line)
    assert line.startswith("  FAIL  every trial ran and reported: 5 of 6 trials reported; "
                           "trial 6 failed: "), out
    assert "RuntimeError: the fake driver crashed" in line, out


# --- the checks on recorded answers --------------------------------------------------------

def smi_gpus(used: int = 800, util: int = 0) -> list[Any]:
    return [check.SmiGpu(check.GpuInfo(index, H100["name"], 81559, used, util),
                         f"GPU-{index}", f"00000000:{0x19 + index:02X}:00.0") for index in (0, 1)]


def seen(trial_id: int, gpu: int, start: float, end: float, *uuids: str) -> Any:
    return check.TrialSeen(trial_id, (gpu,), str(gpu), uuids or (f"GPU-{gpu}",), start, end)


def failed(report: Any) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]


def test_three_trials_on_one_gpu_at_once_fail_and_so_does_one_left_alone() -> None:
    report = check.Report()
    trials = [seen(1, 0, 0, 10), seen(2, 0, 1, 10), seen(3, 0, 2, 10),  # three on GPU 0
              seen(4, 1, 0, 10), seen(5, 1, 10, 12)]  # one after the other on GPU 1
    check.check_trials(report, smi_gpus(), trials, 2, 5)
    assert failed(report) == ["GPU 0: at most 2 trials at once: 3 held it at once",
                              "GPU 1: 2 trials shared it: 1 held it at once"]


def test_a_trial_given_one_gpu_that_sees_another_fails() -> None:
    report = check.Report()
    trials = [seen(1, 0, 0, 1, "GPU-1"), seen(2, 1, 0, 1, "GPU-1", "GPU-0")]
    check.check_trials(report, smi_gpus(), trials, 2, 2)
    assert [line.split(":")[0] for line in failed(report)] == [
        "trial 1", "trial 2", "GPU 0"]  # GPU 1 was held by both; GPU 0 by trial 2 alone
    assert failed(report)[0] == ("trial 1: the driver shows it exactly its GPU: saw "
                                 "['GPU-1'], given ['GPU-0']")


def test_memory_read_in_the_wrong_unit_and_a_load_of_zero_fail() -> None:
    report = check.Report()
    before = [gpu.info for gpu in smi_gpus(used=800)]
    # GPU 0 reads right (2 trials: +2 x (256 + 300) MiB); GPU 1 as if in GiB, and idle
    during = [check.GpuInfo(0, H100["name"], 81559, 800 + 1112, 97),
              check.GpuInfo(1, H100["name"], 80, 1, 0)]
    check.check_load(report, before, [during], {0: 2, 1: 2}, {"GPU-0": [11, 12]},
                     smi_gpus(), 2, 256)
    assert failed(report) == [
        "GPU 1: memory used rose by what its 2 trials took: used 800 MiB idle, [1] MiB "
        "with the trials: +-799 MiB, expected 512..2560",
        "GPU 1: load read while its trials keep it busy: utilization [0] % (2 busy trials)"]


def test_discovery_compares_names_and_memory_with_the_driver() -> None:
    report = check.Report()
    driver = [{"uuid": "GPU-0", "name": H100["name"], "total_mib": 81090, "free_mib": 80490},
              {"uuid": "GPU-1", "name": "NVIDIA A100", "total_mib": 40000, "free_mib": 100}]
    check.check_discovery(report, smi_gpus(used=1000), driver,
                          [gpu.info for gpu in smi_gpus(used=1000)])
    assert [line.split(" (")[0] for line in failed(report)] == [
        "GPU 1", "GPU 1", "GPU 1"]
    assert not any(c.name.startswith("GPU 0") and not c.ok for c in report.checks)
