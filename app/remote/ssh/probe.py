"""``sweeplab servers test``: can trials run on this server? :func:`probe_server`.

The checks run in order, each a :class:`ProbeStep` with a plain-words detail, and stop
at the first one that makes the rest meaningless (no connection, no login):

1. reachable (TCP connect and SSH handshake),
2. host key (known, or accepted by the fingerprint the user confirmed),
3. authentication,
4. work directory writable (created if missing),
5. python (``profile.python --version``, after the setup command),
6. setup command (exit status 0),
7. GPUs (``nvidia-smi``; none means "trials run on CPU", which is fine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.remote.gpu import GpuInfo
from app.remote.ssh.connection import SshConnection
from app.remote.ssh.errors import (
    AuthFailed,
    ConnectFailed,
    HostKeyChanged,
    SshError,
    UnknownHostKey,
)
from app.remote.ssh.hello import parse_gpu_probe, usable_gpus
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import gpu_status_script, q

STEP_NAMES = ("reachable", "host key", "authentication", "work directory", "python",
              "setup command", "GPUs")
_COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ProbeStep:
    """One check: its name, whether it passed, and what was found, in plain words."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class ProbeReport:
    """The result of :func:`probe_server`.

    Attributes:
        server: the profile name.
        steps: the checks made, in order (later ones are missing after a fatal failure).
        gpus: the GPUs found (empty without ``nvidia-smi``).
        unknown_host_key: set when the host key is not known yet, so a caller can show
            its fingerprint and offer to accept it.
    """

    server: str
    steps: tuple[ProbeStep, ...]
    gpus: tuple[GpuInfo, ...] = ()
    unknown_host_key: UnknownHostKey | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True only if trials could run there: every check was made and passed."""
        return len(self.steps) == len(STEP_NAMES) and all(step.ok for step in self.steps)

    def __str__(self) -> str:
        verdict = ("trials can run there" if self.ok
                   else "trials cannot run there until the problems marked FAIL are fixed")
        lines = [f"Server {self.server}: {verdict}."]
        for step in self.steps:
            lines.append(f"  {'ok  ' if step.ok else 'FAIL'}  {step.name}: {step.detail}")
        return "\n".join(lines)


def probe_server(
    profile: ServerProfile,
    secrets: Secrets,
    known_hosts: KnownHosts,
    *,
    accept_fingerprint: str | None = None,
    timeout: float = 10.0,
) -> ProbeReport:
    """Check, in plain words, whether trials could run on the server. Never raises
    :class:`SshError`: every problem becomes a failed step.

    Args:
        profile, secrets, known_hosts: as for :class:`SshConnection`.
        accept_fingerprint: accept an unknown host key with exactly this fingerprint.
        timeout: seconds for connecting and logging in.
    """
    steps: list[ProbeStep] = []
    conn = SshConnection(profile, secrets, known_hosts, accept_fingerprint=accept_fingerprint,
                         timeout=timeout)
    where = f"{profile.user}@{profile.host}:{profile.port}"
    try:
        conn.connect()
    except ConnectFailed as exc:
        steps.append(ProbeStep("reachable", False, _detail(exc)))
        return ProbeReport(profile.name, tuple(steps))
    except UnknownHostKey as exc:
        steps += [ProbeStep("reachable", True, f"{profile.host}:{profile.port} answers SSH"),
                  ProbeStep("host key", False, _detail(exc))]
        return ProbeReport(profile.name, tuple(steps), unknown_host_key=exc)
    except HostKeyChanged as exc:
        steps += [ProbeStep("reachable", True, f"{profile.host}:{profile.port} answers SSH"),
                  ProbeStep("host key", False, _detail(exc))]
        return ProbeReport(profile.name, tuple(steps))
    except AuthFailed as exc:
        steps += [ProbeStep("reachable", True, f"{profile.host}:{profile.port} answers SSH"),
                  ProbeStep("host key", True, "known and unchanged"),
                  ProbeStep("authentication", False, _detail(exc))]
        return ProbeReport(profile.name, tuple(steps))
    try:
        key = conn.host_key
        shown = "" if key is None else f" ({key.get_name()})"
        steps += [ProbeStep("reachable", True, f"{profile.host}:{profile.port} answers SSH"),
                  ProbeStep("host key", True, f"known and unchanged{shown}"),
                  ProbeStep("authentication", True, f"logged in as {where} "
                            f"({profile.auth.value})")]
        return _checks_after_login(conn, profile, steps)
    except SshError as exc:
        steps.append(ProbeStep(STEP_NAMES[len(steps)], False, _detail(exc)))
        return ProbeReport(profile.name, tuple(steps))
    finally:
        conn.close()


def _checks_after_login(conn: SshConnection, profile: ServerProfile,
                        steps: list[ProbeStep]) -> ProbeReport:
    workdir = profile.workdir
    script = (f"w={q(workdir)}\n"
              'case $w in "~") w=$HOME ;; "~/"*) w=$HOME/${w#"~/"} ;; esac\n'
              'mkdir -p -- "$w" && t="$w/.sweeplab-probe-$$" && : >"$t" && rm -f -- "$t" '
              '&& printf "%s\\n" "$w"\n')
    result = conn.run("/bin/sh -s", timeout=_COMMAND_TIMEOUT_S, input=script.encode())
    if result.exit_code == 0:
        steps.append(ProbeStep("work directory", True, f"{result.stdout.strip()} is writable"))
    else:
        steps.append(ProbeStep("work directory", False, f"cannot create or write {workdir!r}: "
                               f"{_first_line(result.stderr)}"))
    setup = profile.setup.strip()
    setup_ok = True
    if setup:
        result = conn.run("/bin/sh -s", timeout=_COMMAND_TIMEOUT_S,
                          input=_with_setup(setup, "").encode())
        setup_ok = result.exit_code == 0
        said = _first_line(result.stderr or result.stdout)
        setup_step = ProbeStep(
            "setup command", setup_ok,
            f"{setup!r} works" if setup_ok else f"{setup!r} failed with status "
            f"{result.exit_code}" + (f": {said}" if said else ""))
    else:
        setup_step = ProbeStep("setup command", True, "none configured")
    python = profile.python
    result = conn.run("/bin/sh -s", timeout=_COMMAND_TIMEOUT_S,
                      input=_with_setup(setup if setup_ok else "",
                                        f"{_python_word(python)} --version 2>&1").encode())
    version = _first_line(result.stdout)
    after = " after the setup command" if setup and setup_ok else ""
    if result.exit_code == 0 and version:
        steps.append(ProbeStep("python", True, f"{python} is {version}{after}"))
    else:
        steps.append(ProbeStep("python", False, f"{python!r} does not run{after}: "
                               f"{version or 'no output'}; set the profile's python (e.g. "
                               "python3, or the full path of a virtualenv's python)"))
    steps.append(setup_step)
    result = conn.run("/bin/sh -s", timeout=_COMMAND_TIMEOUT_S,
                      input=gpu_status_script().encode())
    probe = parse_gpu_probe(result.stdout)
    steps.append(_gpu_step(profile, probe.gpus, probe.note, usable_gpus(profile, probe)))
    return ProbeReport(profile.name, tuple(steps), probe.gpus)


def _gpu_step(profile: ServerProfile, gpus: tuple[GpuInfo, ...], note: str,
              usable: list[int]) -> ProbeStep:
    if not gpus:
        wanted = bool(profile.gpus)
        return ProbeStep("GPUs", not wanted, (note or "no GPUs found; trials run on CPU")
                         + (f", but the profile asks for GPUs {list(profile.gpus or ())}"
                            if wanted else ""))
    names = ", ".join(f"{gpu.index}: {gpu.name}" for gpu in gpus)
    if profile.gpus and not usable:
        return ProbeStep("GPUs", False, f"found {names}, but none of the configured GPUs "
                         f"{list(profile.gpus)} is usable")
    return ProbeStep("GPUs", True, f"found {names}; trials use {usable or 'none (CPU)'}")


def _with_setup(setup: str, command: str) -> str:
    if not setup:
        return command + "\n"
    return ('command -v source >/dev/null 2>&1 || source() { . "$@"; }\n'
            f"{setup}\n{command}\n")


def _python_word(python: str) -> str:
    if python.startswith("~/"):
        return '"$HOME"' + q(python[1:])
    return q(python)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def _detail(exc: SshError) -> str:
    text = str(exc)
    prefix = f"{exc.server}: "
    return text[len(prefix):] if text.startswith(prefix) else text
