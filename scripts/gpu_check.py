"""A real GPU check: Sweeplab's GPU discovery, placement and readings against the driver.

Run it as ``scripts/gpu-check`` (or ``make gpu-check``) on a machine with an NVIDIA GPU.
It needs this checkout's Sweeplab (its ``.venv``) and the NVIDIA driver, nothing else,
and fetches nothing. In well under 3 minutes it:

1. reads ``nvidia-smi`` the way Sweeplab does (:func:`app.remote.gpu.parse_nvidia_smi`)
   and asks the driver itself (``ctypes`` on ``libcuda``, in a child process) for every
   device: same count, names, memory total and free;
2. runs a small experiment on a local executor that finds its GPUs as the app does
   (``nvidia-smi``), with ``gpus_per_trial: 1`` and two trials per GPU allowed, more
   trials than fit at once; each trial (``scripts/gpu_check_trial.py``) asks the
   driver which devices it sees, takes 256 MiB on each and keeps it busy until
   released;
3. while every place holds a trial, reads ``nvidia-smi`` again: memory used rose by what
   the trials took, the GPUs show load, no GPU lists more trial processes than allowed;
4. checks that every trial saw exactly the GPU it was given (by UUID) and that no GPU
   ever held more than two trials at once (from the times each trial held it).

Exit status: 0 every check passed; 1 a check failed (each failure is named); 2 this
script cannot run (Sweeplab missing, bad options); 3 no NVIDIA driver or no GPU here:
nothing was checked, which is not a pass.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_CANNOT_RUN = 2
EXIT_NO_GPU = 3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRIAL_SCRIPT = HERE / "gpu_check_trial.py"
TRIALS_PER_GPU = 2
ALLOC_MIB = 256
CONTEXT_MAX_MIB = 1024  # what one CUDA context may add to nvidia-smi's "used", at most
TIME_LIMIT_S = 170.0
# nvidia-smi's memory.total counts memory the driver keeps for itself; cuMemGetInfo not.
TOTAL_TOLERANCE = 0.03
FREE_TOLERANCE_MIB = 1024

sys.path.insert(0, str(ROOT))
try:
    from app.remote.gpu import QUERY, GpuInfo, parse_nvidia_smi
except ImportError as _missing:  # pragma: no cover - said to the person running it
    print(f"gpu-check: cannot import Sweeplab ({_missing}); run it with the checkout's "
          ".venv (scripts/gpu-check does), after make run or make test", file=sys.stderr)
    sys.exit(EXIT_CANNOT_RUN)


# --- what was seen -----------------------------------------------------------------------

@dataclass(frozen=True)
class SmiGpu:
    """One GPU as nvidia-smi lists it: Sweeplab's reading plus its UUID and bus."""

    info: GpuInfo
    uuid: str
    pci_bus_id: str


@dataclass(frozen=True)
class TrialSeen:
    """What one trial was given (the store) and what its driver showed it."""

    trial_id: int
    given: tuple[int, ...]
    cuda_visible_devices: str | None
    uuids: tuple[str, ...]
    held_from: float | None
    held_until: float | None
    error: str | None = None


@dataclass(frozen=True)
class Check:
    """One named check and its outcome."""

    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    """Every check, plus what the machine is."""

    checks: list[Check] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)


# --- nvidia-smi ----------------------------------------------------------------------------

def _run(command: Sequence[str]) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=30,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}: "
                           f"{(result.stderr or result.stdout).strip()}")
    return result.stdout


def read_gpus(nvidia_smi: str) -> list[GpuInfo]:
    """The GPUs as Sweeplab reads them (the app's query and parser, errors not hidden)."""
    return parse_nvidia_smi(_run([nvidia_smi, *QUERY]))


def read_smi(nvidia_smi: str) -> tuple[list[SmiGpu], str]:
    """Sweeplab's reading joined with each GPU's UUID and PCI bus; the driver version."""
    gpus = read_gpus(nvidia_smi)
    text = _run([nvidia_smi, "--query-gpu=index,uuid,pci.bus_id,driver_version",
                 "--format=csv,noheader"])
    extra: dict[int, tuple[str, str, str]] = {}
    for fields in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(fields) == 4:
            extra[int(fields[0])] = (fields[1].strip(), fields[2].strip(), fields[3].strip())
    versions = sorted({value[2] for value in extra.values()})
    joined = [SmiGpu(gpu, *extra.get(gpu.index, ("?", "?", "?"))[:2]) for gpu in gpus]
    return joined, ", ".join(versions) or "?"


def read_compute_apps(nvidia_smi: str) -> dict[str, list[int]]:
    """The processes nvidia-smi sees on each GPU (by UUID); empty where it lists none
    (a container often hides them)."""
    text = _run([nvidia_smi, "--query-compute-apps=pid,gpu_uuid",
                 "--format=csv,noheader,nounits"])
    apps: dict[str, list[int]] = {}
    for fields in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(fields) == 2 and fields[0].strip().isdigit():
            apps.setdefault(fields[1].strip(), []).append(int(fields[0]))
    return apps


# --- the checks (pure: recorded answers in, checks out) --------------------------------------

def check_discovery(report: Report, smi: Sequence[SmiGpu], driver: Sequence[dict[str, Any]],
                    smi_while_probing: Sequence[GpuInfo]) -> None:
    """nvidia-smi, as Sweeplab reads it, against the driver's own answers.

    Args:
        smi: the GPUs as read before anything ran.
        driver: the devices the driver showed a process with every GPU visible.
        smi_while_probing: nvidia-smi read while that process held a context on each.
    """
    report.add("nvidia-smi and the driver count the same GPUs", len(smi) == len(driver),
               f"nvidia-smi {len(smi)}, driver {len(driver)}")
    by_uuid = {device["uuid"]: device for device in driver}
    during = {gpu.index: gpu for gpu in smi_while_probing}
    for gpu in smi:
        device = by_uuid.get(gpu.uuid)
        where = f"GPU {gpu.info.index} ({gpu.uuid})"
        if device is None:
            report.add(f"{where}: the driver knows it", False,
                       f"the driver's UUIDs: {sorted(by_uuid)}")
            continue
        report.add(f"{where}: name", device["name"] == gpu.info.name,
                   f"nvidia-smi {gpu.info.name!r}, driver {device['name']!r}")
        total = gpu.info.memory_total_mib
        report.add(f"{where}: memory total (MiB)",
                   total is not None and
                   abs(total - device["total_mib"]) <= TOTAL_TOLERANCE * device["total_mib"],
                   f"nvidia-smi {total}, driver {device['total_mib']} "
                   f"(within {TOTAL_TOLERANCE:.0%})")
        read = during.get(gpu.info.index)
        free = read.memory_free_mib if read is not None else None
        report.add(f"{where}: memory free (MiB)",
                   free is not None and abs(free - device["free_mib"]) <= FREE_TOLERANCE_MIB,
                   f"nvidia-smi total-used {free}, driver {device['free_mib']} "
                   f"(within {FREE_TOLERANCE_MIB} MiB)")


def check_trials(report: Report, smi: Sequence[SmiGpu], trials: Sequence[TrialSeen],
                 trials_per_gpu: int, expected: int, silent: Sequence[str] = ()) -> None:
    """Every trial saw exactly the GPU it was given; no GPU held more than allowed.
    ``silent``: for each trial that did not report, what the store says of it."""
    uuid_of = {gpu.info.index: gpu.uuid for gpu in smi}
    report.add("every trial ran and reported", len(trials) == expected,
               "; ".join([f"{len(trials)} of {expected} trials reported", *silent]))
    for trial in trials:
        where = f"trial {trial.trial_id}"
        if trial.error:
            report.add(f"{where}: the driver answered", False, trial.error)
            continue
        wanted = tuple(uuid_of.get(index, f"no GPU {index}") for index in trial.given)
        report.add(f"{where}: one GPU given", len(trial.given) == 1, f"given {trial.given}")
        cvd = ",".join(str(index) for index in trial.given)
        report.add(f"{where}: CUDA_VISIBLE_DEVICES is its GPU",
                   trial.cuda_visible_devices == cvd,
                   f"CUDA_VISIBLE_DEVICES={trial.cuda_visible_devices!r}, given {cvd!r}")
        report.add(f"{where}: the driver shows it exactly its GPU", trial.uuids == wanted,
                   f"saw {list(trial.uuids)}, given {list(wanted)}")
    most = most_at_once(trials)
    for gpu in smi:
        held = most.get(gpu.uuid, 0)
        report.add(f"GPU {gpu.info.index}: at most {trials_per_gpu} trials at once",
                   held <= trials_per_gpu, f"{held} held it at once")
        report.add(f"GPU {gpu.info.index}: {trials_per_gpu} trials shared it",
                   held >= trials_per_gpu, f"{held} held it at once")


def most_at_once(trials: Sequence[TrialSeen]) -> dict[str, int]:
    """The most trials that held each GPU (by UUID) at the same time."""
    edges: dict[str, list[tuple[float, int]]] = {}
    for trial in trials:
        if trial.held_from is None or trial.held_until is None:
            continue
        for uuid in trial.uuids:
            edges.setdefault(uuid, []).extend([(trial.held_from, 1), (trial.held_until, -1)])
    most: dict[str, int] = {}
    for uuid, points in edges.items():
        now = best = 0
        for _, step in sorted(points, key=lambda point: (point[0], point[1])):
            now += step
            best = max(best, now)
        most[uuid] = best
    return most


def check_load(report: Report, before: Sequence[GpuInfo], samples: Sequence[Sequence[GpuInfo]],
               holders: dict[int, int], apps: dict[str, list[int]] | None,
               smi: Sequence[SmiGpu], trials_per_gpu: int, alloc_mib: int) -> None:
    """nvidia-smi's memory and load while ``holders[index]`` trials hold each GPU, each
    with ``alloc_mib`` MiB allocated and the GPU busy."""
    idle = {gpu.index: gpu for gpu in before}
    for gpu in smi:
        index = gpu.info.index
        count = holders.get(index, 0)
        used_before = idle[index].memory_used_mib if index in idle else None
        used = [sample_of(sample, index).memory_used_mib for sample in samples]
        known = [value for value in used if value is not None]
        low, high = count * alloc_mib, count * (alloc_mib + CONTEXT_MAX_MIB)
        rise = (min(known) - used_before) if known and used_before is not None else None
        report.add(f"GPU {index}: memory used rose by what its {count} trials took",
                   rise is not None and low <= rise <= high,
                   f"used {used_before} MiB idle, {used} MiB with the trials: "
                   f"+{rise} MiB, expected {low}..{high}")
        load = [sample_of(sample, index).utilization_pct for sample in samples]
        busy = [value for value in load if value is not None]
        report.add(f"GPU {index}: load read while its trials keep it busy",
                   bool(busy) and all(0 <= value <= 100 for value in busy)
                   and (max(busy) > 0) == (count > 0),
                   f"utilization {load} % ({count} busy trials)")
        if apps:
            listed = apps.get(gpu.uuid, [])
            report.add(f"GPU {index}: nvidia-smi lists at most {trials_per_gpu} trial "
                       "processes", len(listed) <= trials_per_gpu, f"pids {listed}")


def sample_of(sample: Sequence[GpuInfo], index: int) -> GpuInfo:
    """GPU ``index`` in one reading (all None when it is missing from it)."""
    for gpu in sample:
        if gpu.index == index:
            return gpu
    return GpuInfo(index, "?", None, None, None)


def trial_seen(record: dict[str, Any], given: tuple[int, ...]) -> TrialSeen:
    """A trial's ``trial-<id>.json`` and the GPUs the store says it was given."""
    return TrialSeen(
        trial_id=int(record["trial_id"]), given=given,
        cuda_visible_devices=record.get("cuda_visible_devices"),
        uuids=tuple(device["uuid"] for device in record.get("devices", [])),
        held_from=record.get("held_from"), held_until=record.get("held_until"),
        error=record.get("error"))


# --- running it ---------------------------------------------------------------------------

def find_driver(nvidia_smi: str) -> tuple[str | None, str | None, str]:
    """(nvidia-smi's path or None, the driver library loaded or None, why not)."""
    import ctypes

    sys.path.insert(0, str(HERE))
    from gpu_check_trial import library_name

    smi = shutil.which(nvidia_smi)
    fake = os.environ.get("GPU_CHECK_FAKE_DRIVER", "").strip()
    if fake:
        return smi, f"FAKE DRIVER {fake} (a test of this script, not of a GPU)", ""
    name = library_name()
    try:
        ctypes.CDLL(name)
        lib: str | None = name
        why = ""
    except OSError as exc:
        lib, why = None, f"{name} cannot be loaded ({exc})"
    return smi, lib, why


def probe_driver(python: str, nvidia_smi: str) -> tuple[dict[str, Any], list[GpuInfo] | None, str]:
    """Every device the driver shows a process with all GPUs visible, and nvidia-smi
    read while that process holds a context on each."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    child = subprocess.Popen([python, str(TRIAL_SCRIPT), "probe"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdin is not None
    try:
        answer = json.loads(child.stdout.readline() or '{"error": "the probe said nothing"}')
        during = None
        if "error" not in answer:
            during = read_gpus(nvidia_smi)
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    return answer, during, answer.get("error", "")


def run_experiment(work: Path, nvidia_smi: str, report: Report, smi: list[SmiGpu],
                   deadline: float) -> None:
    """The experiment of step 2 and the readings of step 3."""
    from app.engine.experiment import experiment_from_dict
    from app.engine.resume import build_searcher
    from app.engine.runner import Runner
    from app.remote.local import LocalExecutor
    from app.remote.snapshot import take_snapshot
    from app.store.places import sqlite_url
    from app.store.store import Store

    shared = work / "shared"
    shared.mkdir()
    code = work / "code"
    code.mkdir()
    shutil.copy(TRIAL_SCRIPT, code / TRIAL_SCRIPT.name)
    executor = LocalExecutor(work / "trials", gpus=None, trials_per_gpu=TRIALS_PER_GPU,
                             cpu_slots=1, grace=2.0, python=sys.executable,
                             slot_folder=work / "slots")
    report.add("the local executor finds every GPU nvidia-smi lists",
               list(executor.gpus) == [gpu.info.index for gpu in smi],
               f"executor {list(executor.gpus)}, nvidia-smi {[g.info.index for g in smi]}")
    places = TRIALS_PER_GPU * len(smi)
    total = places + len(smi)  # a second wave: the first fills every place
    doc = {
        "version": 1, "name": "gpu-check", "code_dir": str(code),
        "command": f"{{python}} {TRIAL_SCRIPT.name}",
        "kpi": {"name": "devices", "goal": "max"},
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0.0,
                                           "max": 1.0, "default": 0.5}]},
        "algorithm": {"name": "random", "seed": 1},
        "limits": {"max_trials": total, "max_parallel": total, "max_trial_seconds": 150},
        "gpus_per_trial": 1, "env": {"GPU_CHECK_DIR": str(shared)},
    }
    config = experiment_from_dict(doc, code)
    store = Store(sqlite_url(work / "gpu-check.db"))
    try:
        experiment = store.create_experiment(config.name, config.to_dict())
        runner = Runner(store, experiment.id, config, [executor],
                        build_searcher(config, store, experiment.id),
                        take_snapshot(code, work / "snapshots"), grace=2.0, poll_interval=0.05)
        before = read_gpus(nvidia_smi)
        runner.start()
        while (len(list(shared.glob("ready-*"))) + len(list(shared.glob("trial-*.json")))
               < places and time.monotonic() < deadline and not runner.wait(0.1)):
            pass
        ready = len(list(shared.glob("ready-*")))
        report.add(f"the first {places} trials hold every place at once", ready == places,
                   f"{ready} trials held a GPU before any was released")
        samples = []
        for _ in range(3):  # a second and more: a trial over the limit would show up now
            samples.append(read_gpus(nvidia_smi))
            time.sleep(0.5)
        apps = read_compute_apps(nvidia_smi)
        ready = len(list(shared.glob("ready-*")))
        (shared / "release").touch()
        holders = {gpu.info.index: 0 for gpu in smi}
        for trial in store.list_trials(experiment.id):
            if (shared / f"ready-{trial.id}").exists():
                for index in trial.gpus:
                    holders[index] = holders.get(index, 0) + 1
        check_load(report, before, samples, holders, apps, smi, TRIALS_PER_GPU, ALLOC_MIB)
        if not apps:
            report.facts.append("nvidia-smi listed no compute processes (a container hides "
                                "them): trials per GPU counted from the trials' own records")
        finished = runner.wait(max(1.0, deadline - time.monotonic()))
        report.add("the experiment finished in time", finished, f"state {runner.state.value}")
        if not finished:
            runner.stop()
            runner.wait(30)
        executor.close()
        seen, silent = [], []
        for trial in store.list_trials(experiment.id):
            path = shared / f"trial-{trial.id}.json"
            if path.is_file():
                seen.append(trial_seen(json.loads(path.read_text(encoding="utf-8")),
                                       trial.gpus))
            else:  # why, as the store has it (the last line of its error)
                why = (trial.error or "").strip().splitlines()[-1:] or ["no error stored"]
                silent.append(f"trial {trial.number} {trial.state.value}: {why[0]}")
        check_trials(report, smi, seen, TRIALS_PER_GPU, total, silent)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    deadline = started + TIME_LIMIT_S
    nvidia_smi = os.environ.get("GPU_CHECK_NVIDIA_SMI", "nvidia-smi")
    smi_path, lib, why = find_driver(nvidia_smi)
    if smi_path is None and lib is None:
        print(f"gpu-check: no NVIDIA driver here: {why}, and {nvidia_smi} is not on PATH.\n"
              "Nothing was checked; this is not a pass (exit status 3).")
        return EXIT_NO_GPU
    if smi_path is None or lib is None:
        print("gpu-check: FAIL: half a driver: "
              + (f"{nvidia_smi} is not on PATH" if smi_path is None else why))
        return EXIT_FAIL
    try:
        smi, driver_version = read_smi(smi_path)
    except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
        print(f"gpu-check: FAIL: reading nvidia-smi: {exc}")
        return EXIT_FAIL
    if not smi:
        print("gpu-check: the NVIDIA driver is here but nvidia-smi lists no GPU.\n"
              "Nothing was checked; this is not a pass (exit status 3).")
        return EXIT_NO_GPU
    report = Report()
    report.facts.append(f"GPUs: {', '.join(f'{g.info.index}: {g.info.name}' for g in smi)}")
    report.facts.append(f"driver {driver_version} ({lib}); Python {sys.version.split()[0]}")
    answer, during, error = probe_driver(sys.executable, smi_path)
    if error:
        report.add("the driver answers (cuInit, cuDeviceGetCount, cuDeviceGetName, "
                   "cuMemGetInfo)", False, error)
    else:
        devices = answer["devices"]
        version = devices[0]["driver_version"] if devices else 0
        report.facts.append(f"CUDA driver API {version // 1000}.{version % 1000 // 10}")
        check_discovery(report, smi, devices, during or [])
        work = Path(tempfile.mkdtemp(prefix="sweeplab-gpu-check-"))
        try:
            os.environ["SWEEPLAB_HOME"] = str(work / "home")
            run_experiment(work, smi_path, report, smi, deadline)
        except Exception as exc:  # a check, not a traceback: say what broke and go on
            report.add("the experiment ran", False, f"{type(exc).__name__}: {exc}")
        finally:
            if args.keep:
                report.facts.append(f"work folder kept: {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    report.add(f"done within {TIME_LIMIT_S:.0f} s", elapsed <= TIME_LIMIT_S, f"{elapsed:.1f} s")
    print(render(report))
    return EXIT_PASS if report.passed else EXIT_FAIL


def render(report: Report) -> str:
    """The report for a person: what the machine is, each check, the verdict."""
    lines = [f"gpu-check: {fact}" for fact in report.facts]
    lines += [f"  {'pass' if check.ok else 'FAIL'}  {check.name}: {check.detail}"
              for check in report.checks]
    failed = sum(not check.ok for check in report.checks)
    fake = " on a FAKE DRIVER, not a GPU" if any("FAKE DRIVER" in f for f in report.facts) else ""
    lines.append(f"gpu-check: {'PASS' if report.passed else 'FAIL'}: "
                 f"{len(report.checks) - failed} of {len(report.checks)} checks passed{fake}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
