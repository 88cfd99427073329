"""A fake GPU machine for ``scripts/gpu-check``: its driver and its ``nvidia-smi`` agree.

The machine is the JSON file ``$FAKE_GPU_MACHINE``::

    {"driver": "550.54.15", "state": "/folder/for/contexts/and/allocations",
     "gpus": [{"index": 0, "name": "...", "uuid": "GPU-...", "pci": "00000000:19:00.0",
               "total_mib": 81559, "driver_total_mib": 81090, "reserved_mib": 500}],
     "bug": null}

:class:`FakeDriver` (loaded by ``scripts/gpu_check_trial.py`` through
``$GPU_CHECK_FAKE_DRIVER``) shows a process the GPUs ``CUDA_VISIBLE_DEVICES`` names, and
records each context (300 MiB) and allocation as a file in ``state``;
``python fake_gpu.py nvidia-smi ARGS`` answers the queries Sweeplab and the check make
from the same files (only those of living processes), with 100 % load on a GPU that has
memory allocated. ``bug`` makes it wrong on purpose: ``"ignore_visible"`` shows every GPU
whatever ``CUDA_VISIBLE_DEVICES`` says; ``"crash_6"`` crashes trial 6 (id) as it opens
the driver.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

CONTEXT_MIB = 300


def machine() -> dict[str, Any]:
    """The machine ``$FAKE_GPU_MACHINE`` describes."""
    box: dict[str, Any] = json.loads(
        Path(os.environ["FAKE_GPU_MACHINE"]).read_text(encoding="utf-8"))
    return box


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def held(state: Path) -> list[tuple[int, int, str, int]]:
    """(pid, GPU index, kind, MiB) of every living process's context and allocation."""
    found = []
    for path in state.glob("*-*-*"):
        kind, pid, index, *_ = path.name.split("-")
        try:
            mib = int(path.read_text() or 0)  # empty: being written
        except FileNotFoundError:  # freed since it was listed (another trial's free())
            continue
        if alive(int(pid)):
            found.append((int(pid), int(index), kind, mib))
    return found


class FakeDriver:
    """What ``gpu_check_trial.Driver`` does, on the fake machine."""

    def __init__(self) -> None:
        self.machine = machine()
        self.state = Path(self.machine["state"])
        self.current: dict[str, Any] | None = None
        self.count = 0

    def devices(self) -> list[dict[str, Any]]:
        if self.machine.get("bug") == "crash_6" and os.environ.get("SWEEPLAB_TRIAL_ID") == "6":
            raise RuntimeError("the fake driver crashed")
        gpus = self.machine["gpus"]
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None and self.machine.get("bug") != "ignore_visible":
            wanted = [int(part) for part in visible.split(",") if part.strip()]
            gpus = [gpu for index in wanted for gpu in gpus if gpu["index"] == index]
        found = []
        for ordinal, gpu in enumerate(gpus):
            (self.state / f"ctx-{os.getpid()}-{gpu['index']}").write_text(str(CONTEXT_MIB))
            device = {"ordinal": ordinal, "name": gpu["name"], "uuid": gpu["uuid"],
                      "pci_bus_id": gpu["pci"][4:], "total_mib": gpu["driver_total_mib"],
                      "context": gpu["index"], "driver_version": 12040}
            self.current = device
            device["free_mib"] = self.free_mib()
            found.append(device)
        return found

    def use(self, device: dict[str, Any]) -> None:
        self.current = device

    def free_mib(self) -> int:
        assert self.current is not None, "no current context"
        index = self.current["context"]
        used = sum(mib for _, gpu, _, mib in held(self.state) if gpu == index)
        return int(self.current["total_mib"]) - used

    def alloc(self, mib: int) -> int:
        assert self.current is not None, "no current context"
        self.count += 1
        name = f"alloc-{os.getpid()}-{self.current['context']}-{self.count}"
        (self.state / name).write_text(str(mib))
        return self.count

    def free(self, pointer: int) -> None:
        assert self.current is not None, "no current context"
        (self.state / f"alloc-{os.getpid()}-{self.current['context']}-{pointer}").unlink()

    def busy(self, pointer: int, mib: int, value: int) -> None:
        pass


def nvidia_smi(args: list[str]) -> int:
    """Answer the three queries the app and the check make."""
    box = machine()
    now = held(Path(box["state"]))
    query = next((arg.split("=", 1)[1] for arg in args if arg.startswith("--query")), "")
    if any(arg.startswith("--query-compute-apps") for arg in args):
        uuid = {gpu["index"]: gpu["uuid"] for gpu in box["gpus"]}
        for pid, index, kind, _ in now:
            if kind == "ctx":
                print(f"{pid}, {uuid[index]}")
        return 0
    for gpu in box["gpus"]:
        mine = [(kind, mib) for _, index, kind, mib in now if index == gpu["index"]]
        used = gpu["reserved_mib"] + sum(mib for _, mib in mine)
        values = {"index": gpu["index"], "name": gpu["name"], "memory.total": gpu["total_mib"],
                  "memory.used": used,
                  "utilization.gpu": 100 if any(kind == "alloc" for kind, _ in mine) else 0,
                  "uuid": gpu["uuid"], "pci.bus_id": gpu["pci"], "driver_version": box["driver"]}
        print(", ".join(str(values[name]) for name in query.split(",")))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["nvidia-smi"]:
        sys.exit("usage: fake_gpu.py nvidia-smi ARGS")
    sys.exit(nvidia_smi(sys.argv[2:]))
