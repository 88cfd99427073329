"""Trials on a lab server over SSH: :class:`SshExecutor`.

It behaves like :class:`app.remote.local.LocalExecutor`, event for event, with the
same trial directory (``<workdir>/<experiment_id>/<trial_id>/`` holding ``code/``,
``params.json``, ``sdk/``, ``launch.sh``, ``output.log``, ``pid``, ``exit_code``) and
the same wrapper, so trials survive the app and can be re-attached with
:meth:`SshExecutor.follow`.

Per trial: the code snapshot goes up over SFTP once per content hash (skipped when
``<workdir>/snapshots/<hash>.tar.gz`` is there with the right size); then one exec
channel sets the trial up, starts it and streams its log until it ends (see
:mod:`app.remote.ssh.scripts`), in one round trip. When the server stops answering,
trials stay followed while :class:`~app.remote.ssh.session.ServerSession` reconnects;
each continues from its last complete line, or ends LOST once the server has been
gone for ``offline_timeout`` seconds.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko

from app.engine.records import LaunchClaim, ProcessEvent, ProcessEventKind, TrialSpec
from app.remote.events import EventQueue, drain
from app.remote.gpu import GpuInfo, NoFreeSlot
from app.remote.local import DEFAULT_SDK, ExecutorClosed
from app.remote.ssh.errors import SshError
from app.remote.ssh.hello import GpuProbe, Hello, parse_gpu_probe, usable_gpus
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.payload import Sdk, launch_payload
from app.remote.ssh.places import RemoteSlots
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import (
    gpu_status_script,
    pack_command,
)
from app.remote.ssh.session import ServerSession
from app.remote.ssh.trial import RemoteTrial, TrialHost

__all__ = ["ExecutorClosed", "HostStatus", "SshExecutor"]

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 15.0
PACK_TIMEOUT_S = 600.0
"""The longest reading a checkpoint folder off the server may take (PBT)."""
PLACE_RETRY_S = 1.0
"""How often a trial waiting for a GPU place another run holds looks again."""
_JOIN_S = 5.0


@dataclass(frozen=True)
class HostStatus:
    """What the Servers view shows for one server.

    Attributes:
        name: the profile name.
        online: connected and answering.
        running: trials this executor follows there.
        gpus: per-GPU memory and utilisation from the last probe.
        gpu_note: why there are no GPUs, in plain words (empty when there are).
        error: why the last connect attempt failed (empty when fine).
    """

    name: str
    online: bool
    running: int
    gpus: tuple[GpuInfo, ...] = ()
    gpu_note: str = ""
    error: str = ""


class SshExecutor:
    """Runs trials on one SSH server (the ``Executor`` protocol).

    Args:
        profile: the server; ``max_parallel`` caps its trials, GPUs as configured.
        secrets: its password or key passphrase (never logged).
        known_hosts: trusted host keys (an unknown key is refused; accept it first).
        sdk_path: the SDK file put into each trial (default ``app/sdk/sweeplab.py``).
        grace: default seconds between SIGINT, SIGTERM and SIGKILL in :meth:`stop`.
        offline_timeout: seconds a server may be unreachable before its trials are LOST.
        events: a queue to put events into (a pool merging executors); :meth:`poll`
            reads it too. Default: a private queue.
        connect_timeout: seconds for one connect attempt.

    Raises:
        ValueError: an invalid profile, a negative grace or timeout, a missing sdk_path.

    Events:
        STARTED (pid, gpus, trial_dir) or START_FAILED (message) after each submit;
        OUTPUT with complete lines and the log offset after them; EXITED with the exit
        status (None when the wrapper was SIGKILLed) last; or LOST (message) when the
        server stayed unreachable past ``offline_timeout``. PENDING (message) while a
        trial waits for a GPU another run holds; RETURNED (message) instead when
        :attr:`elsewhere` says another host has room.

    Thread safety: as ``LocalExecutor``; :meth:`status` and :meth:`refresh_status` may
    also come from a GUI worker thread. Slots are released before the last event of a
    trial is queued. Nothing connects before the first call that needs the server.
    """

    def __init__(
        self,
        profile: ServerProfile,
        secrets: Secrets,
        known_hosts: KnownHosts,
        *,
        sdk_path: Path | None = None,
        grace: float = 5.0,
        offline_timeout: float = 60.0,
        events: EventQueue | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        problems = profile.problems()
        if problems:
            raise ValueError("; ".join(problems))
        if grace < 0:
            raise ValueError(f"{profile.name}: grace must be >= 0 seconds, got {grace}")
        if offline_timeout < 0:
            raise ValueError(f"{profile.name}: offline_timeout must be >= 0 seconds, "
                             f"got {offline_timeout}")
        if sdk_path is not None and not Path(sdk_path).is_file():
            raise ValueError(f"{profile.name}: SDK file {sdk_path} does not exist")
        self.name = profile.name
        self.profile = profile
        self.grace = grace
        self.offline_timeout = offline_timeout
        sdk = Path(sdk_path) if sdk_path is not None else DEFAULT_SDK
        self._sdk = Sdk(sdk.name, sdk.read_bytes() if sdk.is_file() else None)
        self._events = events if events is not None else EventQueue()
        self._lock = threading.Lock()
        self._slots: RemoteSlots | None = None
        self._pending: list[RemoteTrial] = []  # re-attached before the GPUs were known
        self._probe = GpuProbe()
        self._trials: dict[int, RemoteTrial] = {}
        self._closing = threading.Event()
        self._connect_timeout = connect_timeout
        self.elsewhere: Callable[[int], bool] | None = None
        """Set by a pool: whether another host has room now for a trial of that many
        GPUs. A trial that would wait here for a GPU is given back (RETURNED) then."""
        self._session = ServerSession(profile, secrets, known_hosts,
                                      connect_timeout=connect_timeout, on_hello=self._hello)
        self._host = TrialHost(self.name, self._session, offline_timeout, self._emit,
                               self._release, self._closing, self._lock)

    # --- connection ------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Connected and answering."""
        return self._session.online

    @property
    def gpus(self) -> tuple[int, ...]:
        """The GPU indices this executor places trials on (empty before connecting)."""
        with self._lock:
            return self._slots.gpus if self._slots is not None else ()

    @property
    def snapshot_uploads(self) -> int:
        """How many snapshot archives this executor actually sent (not found there)."""
        return self._host.uploads.count

    def connect(self, timeout: float | None = None) -> None:
        """Connect now and wait for the outcome (otherwise the first call that needs the
        server connects in the background). Retries go on in the background.

        Raises:
            SshError: the first failed attempt's error (``UnknownHostKey``,
                ``AuthFailed``, ``ConnectFailed``...), or not online after ``timeout``
                seconds (default: the connect timeout plus 30 s for the setup script).
        """
        limit = timeout if timeout is not None else self._connect_timeout + 30.0
        if self._session.wait_attempt(limit):
            return
        error = self._session.last_error
        if error is not None:
            raise error
        raise SshError(self.name, f"{self.name}: not connected after {limit:g} s")

    def _hello(self, hello: Hello) -> None:
        with self._lock:
            self._probe = hello.probe
            if self._slots is None:
                gpus = usable_gpus(self.profile, hello.probe)
                self._slots = RemoteSlots(gpus, self.profile.trials_per_gpu,
                                          self.profile.max_parallel, self.name)
                for pending in self._pending:
                    self._slots.occupy(pending.gpus)
                self._pending.clear()

    # --- the Executor protocol ---------------------------------------------------------

    def free_slots(self) -> int:
        """How many more trials :meth:`submit` accepts now (0 while offline)."""
        self._session.start()
        with self._lock:
            if self._slots is None or not self._session.online or self._closing.is_set():
                return 0
            return max(0, min(self._slots.free(), self.profile.max_parallel - len(self._trials)))

    def busy_reason(self) -> str:
        """Why :meth:`free_slots` is 0: offline (and why), at ``max_parallel``, or every
        GPU place taken."""
        if not self._session.online:
            error = self._session.last_error
            return f"{self.name} is offline: {error}" if error else f"{self.name} is connecting"
        with self._lock:
            if self._slots is None:
                return f"{self.name} is connecting"
            if len(self._trials) >= self.profile.max_parallel:
                return f"{self.name} runs its maximum of {self.profile.max_parallel} trial(s)"
            return self._slots.busy_reason()

    def capacity(self) -> int:
        """How many trials fit here when none runs (``max_parallel`` before connecting)."""
        with self._lock:
            if self._slots is None:
                return self.profile.max_parallel
            return min(self._slots.capacity(), self.profile.max_parallel)

    def submit(self, spec: TrialSpec) -> None:
        """Reserve slots and start the trial in the background; returns at once.

        Raises:
            ValueError: the trial is already running here or asks for more GPUs than exist.
            NoFreeSlot: no room now, or the server is offline (check :meth:`free_slots`).
            ExecutorClosed: after :meth:`close`.
        """
        what = f"trial {spec.trial_id}"
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot start {what}, executor is closed")
            if spec.trial_id in self._trials:
                raise ValueError(f"{self.name}: {what} is already running here")
            hello = self._session.hello
            if self._slots is None or hello is None or not self._session.online:
                raise NoFreeSlot(f"{what}: server {self.name} is offline")
            if len(self._trials) >= self.profile.max_parallel:
                raise NoFreeSlot(f"{what}: {self.name} runs its maximum of "
                                 f"{self.profile.max_parallel} trial(s)")
            gpus = self._slots.claim(spec.gpus, what)
            name = f"{spec.trial_id}.{spec.segment}" if spec.segment else str(spec.trial_id)
            trial_dir = f"{hello.workdir}/{spec.experiment_id}/{name}"
            trial = RemoteTrial(spec.trial_id, trial_dir, gpus)
            self._trials[spec.trial_id] = trial
            trial.thread = threading.Thread(target=self._host.guarded,
                                            args=(trial, partial(self._start, trial, spec, hello)),
                                            name=f"sweeplab-{self.name}-{what}", daemon=True)
            trial.thread.start()

    def follow(
        self, trial_id: int, trial_dir: Path | str, offset: int, pid: int | None,
        *, gpus: Sequence[int] = (), queued: bool = False,
    ) -> None:
        """Re-attach to a trial started earlier on this server; it keeps its slots.

        Its log is followed from ``offset``; it ends when ``exit_code`` appears or the
        wrapper is gone (a reused pid counts as gone). OUTPUT and EXITED (or LOST)
        events follow.
        ``queued`` is for batch queues; trials here start at once, so it is ignored.

        Raises:
            ValueError: already followed, or ``offset`` is negative.
            ExecutorClosed: after :meth:`close`.
        """
        if offset < 0:
            raise ValueError(f"{self.name}: trial {trial_id}: offset must be >= 0, got {offset}")
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot follow trial {trial_id}, closed")
            if trial_id in self._trials:
                raise ValueError(f"{self.name}: trial {trial_id} is already followed")
            trial = RemoteTrial(trial_id, str(trial_dir), tuple(gpus), pid=pid, offset=offset,
                                started=True)
            if self._slots is None:
                self._pending.append(trial)
            else:
                self._slots.occupy(trial.gpus)
            self._trials[trial_id] = trial
            trial.thread = threading.Thread(target=self._host.guarded,
                                            args=(trial, partial(self._host.follow, trial)),
                                            name=f"sweeplab-{self.name}-follow-{trial_id}",
                                            daemon=True)
            trial.thread.start()
        self._session.start()

    def pack_folder(self, path: str) -> bytes:
        """A folder on the server as a ``.tar.gz`` (a checkpoint carried to another host).

        Raises:
            OSError: it cannot be read there, or the server does not answer.
        """
        try:
            code, out, err = self._session.main().run_bytes(pack_command(path),
                                                             timeout=PACK_TIMEOUT_S)
        except SshError as exc:
            raise OSError(f"{self.name}: cannot read {path}: {exc}") from exc
        if code != 0:
            raise OSError(f"{self.name}: cannot read {path}: "
                          f"{err.decode('utf-8', 'replace').strip()}")
        return out

    def claim(self, trial_dir: str) -> LaunchClaim:
        """For a resume: whether the trial stored as launching in ``trial_dir`` on this
        server started (see :meth:`TrialHost.claim`); UNKNOWN if the server does not
        answer within the connect timeout."""
        try:
            self.connect()
        except SshError as exc:
            log.warning("%s: cannot claim %s: %s", self.name, trial_dir, exc)
            return LaunchClaim.UNKNOWN
        return self._host.claim(trial_dir, STATUS_TIMEOUT_S)

    def poll(self, timeout: float) -> list[ProcessEvent]:
        """Events since the last call, waiting at most ``timeout`` s for the first."""
        return drain(self._events, timeout, self.name)

    def stop(self, trial_id: int, grace: float | None = None) -> None:
        """SIGINT the trial's group, SIGTERM after ``grace`` s, SIGKILL after another.

        Returns at once; the escalation runs detached on the server, so it completes
        even if the connection drops. Unknown or finished trials and repeated calls are
        ignored; a trial still being set up is not launched; while the server is
        offline the request waits for it to come back.
        """
        grace = self.grace if grace is None else grace
        if grace < 0:
            raise ValueError(f"{self.name}: grace must be >= 0 seconds, got {grace}")
        with self._lock:
            trial = self._trials.get(trial_id)
            if trial is None or trial.stop_grace is not None:
                return
            trial.stop_grace = grace
            send = trial.started
        if send:
            self._host.send_stop(trial)

    def close(self) -> None:
        """Stop following; running trials keep running and stop escalations finish."""
        with self._lock:
            self._closing.set()
            threads = [t.thread for t in self._trials.values() if t.thread is not None]
        self._events.release()  # a follower waiting to queue output must not hold us up
        self._session.close()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(_JOIN_S)

    # --- status ------------------------------------------------------------------------

    def status(self) -> HostStatus:
        """Online state, running trials and the GPUs of the last probe (no I/O)."""
        self._session.start()
        error = self._session.last_error
        with self._lock:
            probe, running = self._probe, len(self._trials)
        return HostStatus(self.name, self._session.online, running, probe.gpus, probe.note,
                          str(error) if error is not None and not self._session.online else "")

    def refresh_status(self) -> HostStatus:
        """Probe the GPUs again (blocks up to ~15 s: call it from a worker thread)."""
        if self._session.online:
            try:
                result = self._session.run("/bin/sh -s", timeout=STATUS_TIMEOUT_S,
                                           input=gpu_status_script().encode())
                probe = parse_gpu_probe(result.stdout)
                with self._lock:
                    self._probe = probe
            except SshError as exc:
                log.info("%s: status refresh failed: %s", self.name, exc)
        return self.status()

    # --- per-trial work ----------------------------------------------------------------

    def _start(self, trial: RemoteTrial, spec: TrialSpec, hello: Hello) -> None:
        if spec.restore_archive is not None:  # PBT: a checkpoint from another host
            try:
                spec = self._upload_checkpoint(trial, spec, hello)
            except OSError as exc:
                self._host.start_failed(trial, f"trial {trial.trial_id} could not start: {exc}")
                return
        while True:
            try:
                payload, command = self._prepare(trial, spec, hello)
            except (ValueError, TypeError) as exc:
                self._host.start_failed(trial, f"trial {trial.trial_id} could not start: {exc}")
                return
            intent = (partial(spec.on_launch, self.name, trial.trial_dir)
                      if spec.on_launch is not None else None)
            busy = self._host.launch(trial, spec.snapshot, payload, command, intent)
            if busy is None or not self._find_place(trial, busy):
                return

    def _upload_checkpoint(self, trial: RemoteTrial, spec: TrialSpec,
                           hello: Hello) -> TrialSpec:
        """Send a checkpoint brought from another host (``restore_archive``) over SFTP;
        the trial helper unpacks it into the trial's ``restore/`` and removes it.

        Raises:
            OSError: the server refused it, or the connection dropped.
        """
        assert spec.restore_archive is not None
        path = f"{hello.workdir}/.sweeplab/restore-{trial.trial_id}-{uuid.uuid4().hex[:12]}.tgz"
        try:
            sftp = self._session.main().sftp()
            sftp.putfo(io.BytesIO(spec.restore_archive), path)
        except (OSError, SshError, paramiko.SSHException, EOFError) as exc:
            raise OSError(f"cannot send the checkpoint to {self.name}: {exc}") from exc
        log.info("%s: trial %s: checkpoint sent (%d bytes)", self.name, trial.trial_id,
                 len(spec.restore_archive))
        return dataclasses.replace(spec, restore_from=path, restore_archive=None)

    def _find_place(self, trial: RemoteTrial, busy: str) -> bool:
        """Another run holds every place of GPU ``busy``: choose the trial's GPUs again
        (that one counts as full for a while), waiting while none has room. False when
        the trial was stopped meanwhile (it has ended then)."""
        with self._lock:
            slots = self._slots
            gpu = slots.mark_held(busy) if slots is not None else None
        which = f"GPU {gpu}" if gpu is not None else busy
        why = f"{which} is taken by another Sweeplab run"
        note = f"waiting for a GPU on {self.name}: {why}"
        while not self._host.given_up(trial):
            with self._lock:
                if slots is not None:
                    slots.release(trial.gpus)
                    try:
                        trial.gpus = slots.claim(len(trial.gpus), f"trial {trial.trial_id}")
                        return True
                    except NoFreeSlot:
                        slots.occupy(trial.gpus)
            elsewhere = self.elsewhere
            if elsewhere is not None and elsewhere(len(trial.gpus)):
                self._host.hand_back(trial, f"nothing was started on {self.name}: {why}")
                return False
            if note != trial.pending_note:  # said once, when it has to wait
                trial.pending_note = note
                self._emit(trial, ProcessEventKind.PENDING, message=note)
            self._closing.wait(PLACE_RETRY_S)
        return False

    def _prepare(self, trial: RemoteTrial, spec: TrialSpec, hello: Hello) -> tuple[bytes, str]:
        """The payload (tar of the trial's files, then the command) and its exec line."""
        if self._sdk.data is None:
            log.warning("%s: SDK %s is missing; trial %s runs without it", self.name,
                        self._sdk.name, trial.trial_id)
        return launch_payload(self.profile, hello, spec, trial.trial_dir, trial.gpus, self._sdk,
                              self._host.snapshot_path(spec.snapshot))

    def _release(self, trial: RemoteTrial) -> None:
        with self._lock:
            if self._trials.get(trial.trial_id) is trial:
                del self._trials[trial.trial_id]
                if self._slots is not None:
                    self._slots.release(trial.gpus)
                elif trial in self._pending:
                    self._pending.remove(trial)

    def _emit(self, trial: RemoteTrial, kind: ProcessEventKind, **fields: Any) -> None:
        self._events.put(ProcessEvent(
            trial_id=trial.trial_id, kind=kind, host=self.name, pid=trial.pid,
            gpus=trial.gpus, trial_dir=trial.trial_dir, **fields,
        ))


if TYPE_CHECKING:
    from app.engine.ports import Executor

    def _is_an_executor(executor: SshExecutor) -> Executor:
        return executor  # mypy checks SshExecutor against the protocol here
