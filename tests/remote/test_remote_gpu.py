"""GPU probing from recorded nvidia-smi output, and GPU/CPU slot accounting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from remote_support import write

from app.remote.gpu import GpuInfo, NoFreeSlot, SlotTable, parse_nvidia_smi, probe_gpus

DATA = Path(__file__).parent / "data"


def fake_tool(tmp_path: Path, body: str) -> str:
    return str(write(tmp_path / "bin" / "nvidia-smi", f"#!/bin/sh\n{body}\n", 0o755))


def test_parse_two_gpus() -> None:
    gpus = parse_nvidia_smi((DATA / "nvidia_smi_2gpu.csv").read_text())
    assert gpus == [GpuInfo(0, "NVIDIA GeForce RTX 3090", 24576, 1234, 7),
                    GpuInfo(1, "NVIDIA GeForce RTX 3090", 24576, 0, 0)]
    assert gpus[0].memory_free_mib == 23342


def test_parse_not_available_fields() -> None:
    gpus = parse_nvidia_smi((DATA / "nvidia_smi_na.csv").read_text())
    assert gpus == [GpuInfo(0, "Tesla K80", 11441, None, None),
                    GpuInfo(1, "NVIDIA A100-SXM4-40GB", None, 3, None)]
    assert gpus[0].memory_free_mib is None


def test_parse_name_with_comma_and_empty_output() -> None:
    assert parse_nvidia_smi("3, Odd, Name, 100, 50.0, 12\n") == [
        GpuInfo(3, "Odd, Name", 100, 50, 12)]
    assert parse_nvidia_smi("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("No devices were found\n", "line 1 'No devices were found': expected 5"),
        ("0, A, 1, 2, 3\nx, B, 1, 2, 3\n", "line 2 .*index 'x' is not a number"),
        ("0, A, lots, 2, 3\n", "memory.total 'lots' is not a number"),
        ("[N/A], A, 1, 2, 3\n", "GPU index is missing"),
    ],
)
def test_parse_garbage_names_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_nvidia_smi(text)


def test_probe_runs_the_tool(tmp_path: Path) -> None:
    tool = fake_tool(tmp_path, f"cat {DATA / 'nvidia_smi_2gpu.csv'}")
    assert [gpu.index for gpu in probe_gpus(tool)] == [0, 1]


def test_probe_without_usable_tool_finds_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert probe_gpus(str(tmp_path / "no-such-tool")) == []
    assert probe_gpus(fake_tool(tmp_path, "echo 'driver not loaded' >&2; exit 9")) == []
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert probe_gpus(fake_tool(tmp_path, "echo 'garbage here'")) == []
    assert "unreadable GPU list" in caplog.text and "garbage here" in caplog.text
    assert probe_gpus(fake_tool(tmp_path, "exec sleep 5"), timeout=0.2) == []


def test_slots_least_loaded_distinct_gpus() -> None:
    table = SlotTable([0, 1, 2], trials_per_gpu=2, cpu_slots=4, host="h")
    assert table.free() == 6
    assert table.claim(1) == (0,)
    assert table.claim(1) == (1,)
    assert table.claim(2) == (0, 2)  # least loaded first: GPU 2 (no trial), then GPU 0
    assert table.free() == 2
    assert table.claim(0) == () and table.free() == 2  # CPU slots are separate
    with pytest.raises(NoFreeSlot, match="only 2 GPU"):
        table.claim(3)
    table.release((0, 2))
    assert table.free() == 4
    with pytest.raises(ValueError, match="asks for 4 GPU"):
        table.claim(4, "trial 9")


def test_slots_cpu_only_and_occupy() -> None:
    table = SlotTable([], trials_per_gpu=1, cpu_slots=2, host="h")
    assert table.claim(0) == () and table.claim(0) == ()
    with pytest.raises(NoFreeSlot, match="all 2 CPU slots of h are busy"):
        table.claim(0)
    with pytest.raises(ValueError, match=r"trial 3 asks for 1 GPU.*h has 0"):
        table.claim(1, "trial 3")
    table.occupy(())  # a re-attached trial, over capacity
    table.release(())
    assert table.free() == 0
    table.release(())
    assert table.free() == 1
    gpus = SlotTable([0], trials_per_gpu=1, cpu_slots=1, host="h")
    gpus.occupy((0, 5))  # GPU 5 is no longer configured: not counted
    assert gpus.free() == 0 and gpus.gpus == (0,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 0], 1, 1), "distinct"),
        (([-1], 1, 1), "distinct and >= 0"),
        (([0], 0, 1), "trials_per_gpu must be at least 1"),
        (([0], 1, 0), "cpu_slots must be at least 1"),
    ],
)
def test_slot_table_refuses_bad_settings(args: tuple[list[int], int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlotTable(*args, host="h")
