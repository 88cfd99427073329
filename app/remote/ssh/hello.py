"""What a server told us when we connected: home, work dir, user id, GPUs.

:func:`parse_hello` reads the output of :func:`app.remote.ssh.scripts.hello_script`
(or of :func:`~app.remote.ssh.scripts.gpu_status_script`, which has only the GPU part);
:func:`usable_gpus` applies a profile's GPU choices to what was found.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.remote.gpu import GpuInfo, parse_nvidia_smi
from app.remote.ssh.profile import ServerProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuProbe:
    """The GPUs a server has, and why there are none when there are none.

    Attributes:
        gpus: as ``nvidia-smi`` reported them.
        note: empty, or a plain-words reason there is no GPU list (no ``nvidia-smi``,
            it failed, its output was unreadable).
        busy: indices of GPUs running processes of other users.
    """

    gpus: tuple[GpuInfo, ...] = ()
    note: str = ""
    busy: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Hello:
    """The server's answers to the connect-time script."""

    home: str
    workdir: str
    uid: str
    probe: GpuProbe


def parse_hello(text: str) -> Hello:
    """Read the connect-time script's output.

    Raises:
        ValueError: ``@home``/``@workdir`` is missing (the script did not run to its end).
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        for key in ("home", "workdir", "uid"):
            if line.startswith(f"@{key} "):
                values[key] = line[len(key) + 2:]
    if "workdir" not in values:
        raise ValueError(f"the server's answer lacks the work directory: {text[:200]!r}")
    return Hello(values.get("home", ""), values["workdir"], values.get("uid", ""),
                 parse_gpu_probe(text, values.get("uid", "")))


def parse_gpu_probe(text: str, uid: str = "") -> GpuProbe:
    """The GPU part of a probe's output (see :data:`app.remote.ssh.scripts.GPU_PROBE`)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    status = ""
    for line in text.splitlines():
        if line.startswith("@no-nvidia-smi"):
            return GpuProbe(note="nvidia-smi is not installed: no GPUs, trials run on CPU")
        if line.startswith("@gpus"):
            status = line[len("@gpus"):].strip()
            current = sections.setdefault("gpus", [])
        elif line in ("@uuids", "@apps"):
            current = sections.setdefault(line[1:], [])
        elif line.startswith("@"):
            current = None
        elif current is not None and line.strip():
            current.append(line)
    if "gpus" not in sections:
        return GpuProbe(note="the GPU probe did not answer: trials run on CPU")
    if status != "0":
        detail = " ".join(sections["gpus"])[:200]
        return GpuProbe(note=f"nvidia-smi failed (status {status}): {detail}; trials run on CPU")
    try:
        gpus = tuple(parse_nvidia_smi("\n".join(sections["gpus"])))
    except ValueError as exc:
        return GpuProbe(note=f"unreadable nvidia-smi output ({exc}); trials run on CPU")
    return GpuProbe(gpus, "", _busy(sections.get("uuids", []), sections.get("apps", []), uid))


def _busy(uuid_lines: Sequence[str], app_lines: Sequence[str], uid: str) -> frozenset[int]:
    """GPU indices running a process owned by someone else (unknown owner counts)."""
    by_uuid: dict[str, int] = {}
    for line in uuid_lines:
        index, _, uuid = line.partition(",")
        try:
            by_uuid[uuid.strip()] = int(index)
        except ValueError:
            continue
    busy: set[int] = set()
    for line in app_lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        uuid, owner = fields[0].rstrip(","), fields[2]
        if owner != uid and uuid in by_uuid:
            busy.add(by_uuid[uuid])
    return frozenset(busy)


def usable_gpus(profile: ServerProfile, probe: GpuProbe) -> list[int]:
    """The GPU indices trials may use: the profile's choice among those found.

    ``profile.gpus`` None takes every GPU found, ``()`` none; configured indices the
    server lacks are left out (logged). GPUs busy with other users' processes are
    left out unless ``profile.allow_busy_gpus``.
    """
    found = [gpu.index for gpu in probe.gpus]
    if profile.gpus is None:
        chosen = found
    else:
        missing = [index for index in profile.gpus if index not in found]
        if missing:
            log.warning("%s: GPU(s) %s are not on the server (found %s); not used",
                        profile.name, missing, found)
        chosen = [index for index in profile.gpus if index in found]
    if not profile.allow_busy_gpus and probe.busy:
        skipped = sorted(set(chosen) & probe.busy)
        if skipped:
            log.info("%s: GPU(s) %s run other users' processes; not used", profile.name,
                     skipped)
        chosen = [index for index in chosen if index not in probe.busy]
    return chosen
