"""One trial of ``scripts/gpu-check``: asks the NVIDIA driver itself which GPUs it sees.

Standard library only (``ctypes`` on ``libcuda``), so it runs under any Python a trial
gets. Two ways to run it:

* ``python gpu_check_trial.py probe``: every device the driver shows this process,
  printed as one JSON line while a context stays open on each (so ``nvidia-smi`` can be
  read meanwhile); it exits when its stdin closes.
* as a Sweeplab trial (no argument): in the folder ``$GPU_CHECK_DIR`` it writes
  ``ready-<trial id>`` once it holds a context and ``ALLOC_MIB`` of memory on each GPU
  it sees, keeps the GPU busy (memsets) until ``release`` appears there, then writes
  ``trial-<trial id>.json``: ``CUDA_VISIBLE_DEVICES``, the devices seen, the free
  memory the driver reported, and when it held them. Its KPI is the number of devices.

The library is ``$GPU_CHECK_LIBCUDA`` when set, else ``libcuda.so.1`` (``nvcuda.dll`` on
Windows). ``$GPU_CHECK_FAKE_DRIVER`` names a Python file whose ``FakeDriver`` stands in
for the driver: the test suite's fake GPU machine (``tests/remote/fake_gpu.py``), so the
check itself is tested where no GPU is; the report then says so.

The driver API's ``_v2`` entry points are used where cuda.h maps a name to one
(``cuMemGetInfo`` is ``cuMemGetInfo_v2``): the plain names are the old 32-bit ABI.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ALLOC_MIB = 256
HOLD_LIMIT_S = 120.0  # a trial never holds its GPU longer, release or not
MIB = 1024 * 1024


class DriverError(RuntimeError):
    """A driver call failed; the message names the call and the CUDA error."""


def library_name() -> str:
    """Where the driver is loaded from."""
    given = os.environ.get("GPU_CHECK_LIBCUDA", "").strip()
    if given:
        return given
    return "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"


def load_driver() -> ctypes.CDLL:
    """The CUDA driver library.

    Raises:
        DriverError: it cannot be loaded (no NVIDIA driver here).
    """
    name = library_name()
    try:
        return ctypes.CDLL(name)
    except OSError as exc:
        raise DriverError(f"cannot load the NVIDIA driver library {name}: {exc}") from exc


class Driver:
    """The few driver API calls the check needs."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib

    def call(self, name: str, *args: Any) -> None:
        """Call ``name``; raise DriverError unless it returns CUDA_SUCCESS."""
        status = getattr(self.lib, name)(*args)
        if status != 0:
            text = ctypes.c_char_p()
            described = ""
            if self.lib.cuGetErrorName(status, ctypes.byref(text)) == 0 and text.value:
                described = f" {text.value.decode(errors='replace')}"
            raise DriverError(f"{name} failed with CUDA error {status}{described}")

    def devices(self) -> list[dict[str, Any]]:
        """Every device this process sees, each with a context made current once to read
        its free memory (``cuMemGetInfo`` needs one); the contexts stay retained."""
        self.call("cuInit", 0)
        version = ctypes.c_int()
        self.call("cuDriverGetVersion", ctypes.byref(version))
        count = ctypes.c_int()
        self.call("cuDeviceGetCount", ctypes.byref(count))
        found = []
        for ordinal in range(count.value):
            device = ctypes.c_int()
            self.call("cuDeviceGet", ctypes.byref(device), ordinal)
            name = ctypes.create_string_buffer(256)
            self.call("cuDeviceGetName", name, 256, device)
            uuid = (ctypes.c_ubyte * 16)()
            self.call("cuDeviceGetUuid", uuid, device)
            bus = ctypes.create_string_buffer(64)
            self.call("cuDeviceGetPCIBusId", bus, 64, device)
            total = ctypes.c_size_t()
            self.call("cuDeviceTotalMem_v2", ctypes.byref(total), device)
            context = ctypes.c_void_p()
            self.call("cuDevicePrimaryCtxRetain", ctypes.byref(context), device)
            self.call("cuCtxSetCurrent", context)
            free, total_ctx = ctypes.c_size_t(), ctypes.c_size_t()
            self.call("cuMemGetInfo_v2", ctypes.byref(free), ctypes.byref(total_ctx))
            found.append({
                "ordinal": ordinal, "name": name.value.decode(errors="replace"),
                "uuid": uuid_text(bytes(uuid)), "pci_bus_id": bus.value.decode(),
                "total_mib": total.value // MIB, "free_mib": free.value // MIB,
                "context": context.value, "driver_version": version.value,
            })
        return found

    def use(self, device: dict[str, Any]) -> None:
        """Make ``device``'s (retained) context current."""
        self.call("cuCtxSetCurrent", ctypes.c_void_p(device["context"]))

    def free_mib(self) -> int:
        """Free memory of the current context's device, as the driver says."""
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.call("cuMemGetInfo_v2", ctypes.byref(free), ctypes.byref(total))
        return free.value // MIB

    def alloc(self, mib: int) -> int:
        """``mib`` MiB on the current device; returns the device pointer."""
        pointer = ctypes.c_uint64()
        self.call("cuMemAlloc_v2", ctypes.byref(pointer), ctypes.c_size_t(mib * MIB))
        return pointer.value

    def free(self, pointer: int) -> None:
        """Give back what :meth:`alloc` took on the current device."""
        self.call("cuMemFree_v2", ctypes.c_uint64(pointer))

    def busy(self, pointer: int, mib: int, value: int) -> None:
        """Fill the buffer on the GPU and wait for it: load that nvidia-smi shows."""
        self.call("cuMemsetD8_v2", ctypes.c_uint64(pointer), ctypes.c_ubyte(value & 0xFF),
                  ctypes.c_size_t(mib * MIB))
        self.call("cuCtxSynchronize")


def open_driver() -> Any:
    """The driver, or the fake one ``$GPU_CHECK_FAKE_DRIVER`` names.

    Raises:
        DriverError: the driver library cannot be loaded.
    """
    fake = os.environ.get("GPU_CHECK_FAKE_DRIVER", "").strip()
    if not fake:
        return Driver(load_driver())
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check_fake_driver", fake)
    if spec is None or spec.loader is None:
        raise DriverError(f"GPU_CHECK_FAKE_DRIVER={fake}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeDriver()


def uuid_text(raw: bytes) -> str:
    """A device UUID as nvidia-smi prints it: ``GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``."""
    hexed = raw.hex()
    return (f"GPU-{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}")


def probe() -> int:
    """Print every device as one JSON line, hold the contexts until stdin closes."""
    try:
        devices = open_driver().devices()
        print(json.dumps({"devices": devices}), flush=True)
    except DriverError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    sys.stdin.read()
    return 0


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` whole or not at all (the checker may look at any moment)."""
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)


def trial() -> int:
    """The trial: see the module docstring."""
    folder = Path(os.environ["GPU_CHECK_DIR"])
    trial_id = os.environ.get("SWEEPLAB_TRIAL_ID", str(os.getpid()))
    record: dict[str, Any] = {
        "trial_id": int(trial_id), "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "cuda_device_order": os.environ.get("CUDA_DEVICE_ORDER"),
        "devices": [], "error": None, "held_from": None, "held_until": None,
    }
    status = 0
    try:
        driver = open_driver()
        devices = driver.devices()
        record["devices"] = devices
        buffers = []
        for device in devices:
            driver.use(device)
            buffers.append((device, driver.alloc(ALLOC_MIB)))
            device["free_mib_holding"] = driver.free_mib()
        record["held_from"] = time.time()
        write_json(folder / f"ready-{trial_id}", {"pid": os.getpid()})
        deadline = time.monotonic() + HOLD_LIMIT_S
        turn = 0
        while not (folder / "release").exists() and time.monotonic() < deadline:
            for device, pointer in buffers:
                driver.use(device)
                driver.busy(pointer, ALLOC_MIB, turn)
            turn += 1
            if not buffers:
                time.sleep(0.05)  # nothing to keep busy: just wait for the release
        record["held_until"] = time.time()
        for device, pointer in buffers:
            driver.use(device)
            driver.free(pointer)
    except DriverError as exc:
        record["error"] = str(exc)
        status = 1
    write_json(folder / f"trial-{trial_id}.json", record)
    print("#sweeplab " + json.dumps({"metric": "devices", "value": len(record["devices"])}))
    return status


if __name__ == "__main__":
    sys.exit(probe() if sys.argv[1:] == ["probe"] else trial())
