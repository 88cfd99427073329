"""Trials as detached processes on this machine: :class:`LocalExecutor`.

Each trial gets ``work_root/<experiment_id>/<trial_id>/`` holding ``code/`` (its own
copy of the snapshot), ``params.json``, ``sdk/sweeplab.py`` and the wrapper's files (see
:mod:`app.remote.launcher`); the SDK and ``launch.sh`` are hard links to one copy in
``work_root/.shared`` (:class:`~app.remote.trial_dir.SharedFiles`). Two daemon threads
per executor, whatever the number of trials: the launcher prepares each submitted
trial's directory and starts its wrapper, one after the other; the follower follows
every running trial's ``output.log`` and notices its end, waking on a trial's exit (a
pidfd, on Linux) or on new work, else looking again after 5 ms, doubling up to 100 ms
while nothing happens. (A thread per trial, and a second one waiting for its exit, cost
more than the rest of a minimal trial's dispatch: docs/PERFORMANCE.md.) Events go
through a thread-safe queue that :meth:`LocalExecutor.poll` drains.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from app.engine.processes import end_leftovers, is_alive
from app.engine.records import LaunchClaim, ProcessEvent, ProcessEventKind, TrialSpec
from app.remote.events import EventQueue, drain
from app.remote.gpu import probe_gpus
from app.remote.launcher import (
    CODE_DIR,
    LAUNCH_FILE,
    LOG_FILE,
    TrialProcess,
    claim_launch,
    launch,
    pack_folder,
    read_exit_code,
    read_pid_file,
    stop_group,
)
from app.remote.logtail import LineSplitter
from app.remote.slot_locks import SharedSlots, close_all, shared_slots
from app.remote.trial_dir import SHARED_DIR, SharedFiles, prepare_trial_dir

log = logging.getLogger(__name__)

DEFAULT_SDK = Path(__file__).resolve().parents[1] / "sdk" / "sweeplab.py"
_CHUNK = 1 << 20
_MIN_DELAY_S = 0.005
_MAX_DELAY_S = 0.1
_JOIN_S = 5.0
_WRAPPER_END_S = 2.0
"""How long a re-attached trial's wrapper may take from writing ``exit_code`` to exiting."""


class ExecutorClosed(RuntimeError):
    """:meth:`LocalExecutor.submit` or :meth:`~LocalExecutor.follow` after ``close()``."""


@dataclass
class _Run:
    """One trial this executor follows. Fields change under the executor's lock."""

    trial_id: int
    trial_dir: Path
    gpus: tuple[int, ...]
    proc: TrialProcess | None = None
    pid: int | None = None
    start_time: int | None = None
    stop_requested: bool = False
    stopping: bool = False
    lock_fds: list[int] = field(default_factory=list, repr=False)
    """Open slot lock files until the trial's wrapper inherits them (see slot_locks)."""
    # the follower's own (only its thread touches them):
    splitter: LineSplitter | None = field(default=None, repr=False)
    log_file: BinaryIO | None = field(default=None, repr=False)
    ended: bool = False
    pidfd: int | None = None
    """Readable once the wrapper has ended (Linux); None elsewhere or re-attached."""


class LocalExecutor:
    """Runs trials as detached processes on this machine (the ``Executor`` protocol).

    Args:
        work_root: where trial directories are made (created if missing).
        gpus: GPU indices to use; None probes ``nvidia-smi``; ``[]`` means none.
        trials_per_gpu: trials sharing one GPU.
        cpu_slots: trials without a GPU at a time (default: the number of CPUs).
        name: the host name put on every event.
        sdk_path: the SDK file copied into each trial (default ``app/sdk/sweeplab.py``).
        grace: default seconds between SIGINT, SIGTERM and SIGKILL in :meth:`stop`.
        python: what ``{python}`` in a command stands for (this app's interpreter).
        events: the queue events go to (a :class:`~app.remote.pool.Pool` shares one
            among its hosts); by default this executor's own.
        slot_folder: lock files shared with every Sweeplab process on this machine, so
            two experiments at once never put trials on one GPU place (see
            :mod:`app.remote.slot_locks`); None counts this executor's trials only.

    Raises:
        ValueError: bad counts or GPU indices, a negative grace, a missing sdk_path, or
            Windows (local trials need POSIX process groups and sessions).

    Events:
        STARTED (pid, gpus, trial_dir) or START_FAILED (message) after each submit;
        OUTPUT with complete lines and the log offset after them; EXITED with the exit
        status (None when the wrapper was SIGKILLed before writing it) last.

    Thread safety: ``submit``, ``free_slots``, ``poll``, ``stop`` and ``follow`` come
    from the runner thread; ``close`` from any thread. Slots are released before the
    EXITED or START_FAILED event is queued.
    """

    def __init__(
        self,
        work_root: Path,
        *,
        gpus: Sequence[int] | None = None,
        trials_per_gpu: int = 1,
        cpu_slots: int | None = None,
        name: str = "local",
        sdk_path: Path | None = None,
        grace: float = 5.0,
        python: str = sys.executable,
        events: EventQueue | None = None,
        slot_folder: Path | None = None,
    ) -> None:
        if os.name != "posix":
            raise ValueError(
                f"{name}: trials cannot run on this computer itself on Windows (only on "
                "Linux and macOS); put an SSH server or a Slurm cluster in the "
                "experiment's hosts instead of `local`")
        if grace < 0:
            raise ValueError(f"{name}: grace must be >= 0 seconds, got {grace}")
        if sdk_path is not None and not Path(sdk_path).is_file():
            raise ValueError(f"{name}: SDK file {sdk_path} does not exist")
        if gpus is None:
            gpus = [gpu.index for gpu in probe_gpus()]
        self.name = name
        self.grace = grace
        self.python = python
        self.work_root = Path(work_root).resolve()
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._slots = shared_slots(list(gpus), trials_per_gpu,
                                   cpu_slots or os.cpu_count() or 1, name, slot_folder)
        self._sdk = Path(sdk_path) if sdk_path is not None else DEFAULT_SDK
        self._shared = SharedFiles(self.work_root / SHARED_DIR, self._sdk)
        self._events = events if events is not None else EventQueue()
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}
        self._closing = threading.Event()
        self._launches: queue.SimpleQueue[tuple[_Run, TrialSpec] | None] = queue.SimpleQueue()
        self._follows: queue.SimpleQueue[_Run] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._wake_read = self._wake_write = -1  # a pipe, made with the threads
        self._pipe_lock = threading.Lock()
        self._pipe_open = False

    @property
    def gpus(self) -> tuple[int, ...]:
        """The GPU indices this executor places trials on."""
        return self._slots.gpus

    def trial_dir(self, experiment_id: int, trial_id: int, segment: int = 0) -> Path:
        """Where a trial's files live (segment N > 0 of a PBT trial: ``<trial_id>.N``)."""
        name = str(trial_id) if segment == 0 else f"{trial_id}.{segment}"
        return self.work_root / str(experiment_id) / name

    def free_slots(self) -> int:
        """How many more 1-GPU trials (0-GPU without GPUs) :meth:`submit` accepts now."""
        with self._lock:
            return self._slots.free()

    def busy_reason(self) -> str:
        """Why no trial fits now (every place taken), in words."""
        with self._lock:
            return self._slots.busy_reason()

    def capacity(self) -> int:
        """How many trials fit here when none runs (balances load across hosts)."""
        return self._slots.capacity()

    def submit(self, spec: TrialSpec) -> None:
        """Reserve slots and start the trial in the background; returns at once.

        Raises:
            ValueError: the trial is already running here or asks for more GPUs than exist.
            NoFreeSlot: no room now (check :meth:`free_slots` first).
            ExecutorClosed: after :meth:`close`.
        """
        what = f"trial {spec.trial_id}"
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot start {what}, executor is closed")
            if spec.trial_id in self._runs:
                raise ValueError(f"{self.name}: {what} is already running here")
            fds: list[int] = []
            if isinstance(self._slots, SharedSlots):
                gpus, fds = self._slots.claim_locked(spec.gpus, what)
            else:
                gpus = self._slots.claim(spec.gpus, what)
            run = _Run(spec.trial_id,
                       self.trial_dir(spec.experiment_id, spec.trial_id, spec.segment), gpus)
            run.lock_fds = fds
            self._runs[spec.trial_id] = run
            self._start_threads()
            self._launches.put((run, spec))

    def follow(
        self, trial_id: int, trial_dir: Path | str, offset: int, pid: int | None,
        *, gpus: Sequence[int] = (), queued: bool = False,
    ) -> None:
        """Re-attach to a trial started by an earlier instance; it keeps its slots.

        Its log is followed from ``offset``; it ends when ``exit_code`` appears or the
        wrapper is gone (a pid reused by another process counts as gone, told apart by
        the start time in the ``pid`` file). OUTPUT and EXITED events follow.
        ``queued`` is for batch queues; trials here start at once, so it is ignored.

        Raises:
            ValueError: the trial is already followed, or ``offset`` is negative.
            ExecutorClosed: after :meth:`close`.
        """
        if offset < 0:
            raise ValueError(f"{self.name}: trial {trial_id}: offset must be >= 0, got {offset}")
        trial_dir = Path(trial_dir).resolve()
        record = read_pid_file(trial_dir)
        if pid is None and record is not None:
            pid = record.pid
        start = record.start_time if record is not None and record.pid == pid else None
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot follow trial {trial_id}, closed")
            if trial_id in self._runs:
                raise ValueError(f"{self.name}: trial {trial_id} is already followed")
            run = _Run(trial_id, trial_dir, tuple(gpus), pid=pid, start_time=start)
            run.splitter = LineSplitter(offset)
            self._slots.occupy(run.gpus)
            self._runs[trial_id] = run
            self._start_threads()
            self._follows.put(run)
        self._wake()

    def claim(self, trial_dir: str) -> LaunchClaim:
        """For a resume: whether the trial stored as launching in ``trial_dir`` started
        (see :func:`~app.remote.launcher.claim_launch`); UNKNOWN if the folder cannot
        be written."""
        try:
            return claim_launch(Path(trial_dir))
        except OSError as exc:
            log.warning("%s: cannot claim %s: %s", self.name, trial_dir, exc)
            return LaunchClaim.UNKNOWN

    def pack_folder(self, path: str) -> bytes:
        """A folder here as a ``.tar.gz`` (a checkpoint carried to another host).

        Raises:
            OSError: it cannot be read.
        """
        return pack_folder(Path(path))

    def poll(self, timeout: float) -> list[ProcessEvent]:
        """Events since the last call, waiting at most ``timeout`` s for the first."""
        return drain(self._events, timeout, self.name)

    def stop(self, trial_id: int, grace: float | None = None) -> None:
        """SIGINT the trial's group, SIGTERM after ``grace`` s, SIGKILL after another.

        Returns at once (a timer thread escalates). Unknown or finished trials and
        repeated calls are ignored; a trial still being prepared is not launched.
        """
        grace = self.grace if grace is None else grace
        if grace < 0:
            raise ValueError(f"{self.name}: grace must be >= 0 seconds, got {grace}")
        with self._lock:
            run = self._runs.get(trial_id)
            if run is None or run.stopping:
                return
            if run.pid is None:
                run.stop_requested = True
                return
            if run.proc is None and not is_alive(run.pid, run.start_time):
                return  # a re-attached trial that is ending: never signal a reused pid
            run.stopping = True
            pgid = run.pid
        threading.Thread(target=stop_group, args=(pgid, grace), daemon=True,
                         name=f"sweeplab-stop-{trial_id}").start()

    def close(self) -> None:
        """Stop following; running trials keep running and stop escalations finish."""
        with self._lock:
            self._closing.set()
            threads = list(self._threads)
        self._launches.put(None)
        self._wake()
        self._events.release()  # a follower waiting to queue output must not hold us up
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(_JOIN_S)
        if not any(thread.is_alive() for thread in threads):
            with self._pipe_lock:
                if self._pipe_open:
                    self._pipe_open = False
                    os.close(self._wake_read)
                    os.close(self._wake_write)

    def _start_threads(self) -> None:
        """The launcher and the follower, on the first trial (under the lock)."""
        if self._threads:
            return
        with self._pipe_lock:
            self._wake_read, self._wake_write = _wake_pipe()
            self._pipe_open = True
        for target, role in ((self._launcher, "launch"), (self._follower, "follow")):
            thread = threading.Thread(target=target, name=f"sweeplab-{role}-{self.name}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def _wake(self) -> None:
        """Wake the follower now (new work, or closing)."""
        with self._pipe_lock, contextlib.suppress(BlockingIOError):  # full: it wakes anyway
            if self._pipe_open:
                os.write(self._wake_write, b"w")

    # --- the launcher ----------------------------------------------------------------

    def _launcher(self) -> None:
        """Start the submitted trials in turn until :meth:`close`. Whatever error escapes
        one trial still ends it, with the reason, and frees its slot: START_FAILED before
        its process started, EXITED after. Nothing is left QUEUED or RUNNING for ever."""
        while (item := self._launches.get()) is not None:
            run, spec = item
            try:
                self._start(run, spec)
            except Exception as exc:
                log.exception("%s: starting trial %s failed", self.name, run.trial_id)
                self._end_after_error(run, exc)
        # closing: what was submitted and not started yet ends START_FAILED
        while True:
            try:
                item = self._launches.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._fail(item[0], f"trial {item[0].trial_id} was not started: the "
                                    "executor closed")

    def _end_after_error(self, run: _Run, exc: Exception) -> None:
        with self._lock:
            if self._runs.get(run.trial_id) is not run:
                return  # it has ended (and said so) already
            started = run.pid is not None
        reason = f"{type(exc).__name__}: {exc}"
        if not started:
            self._fail(run, f"trial {run.trial_id} could not start: {reason}")
            return
        self._release(run)
        self._emit(run, ProcessEventKind.EXITED, exit_code=read_exit_code(run.trial_dir),
                   message=f"following trial {run.trial_id} failed ({reason}); it may "
                           "still be running")

    def _start(self, run: _Run, spec: TrialSpec) -> None:
        if self._closing.is_set():
            self._fail(run, f"trial {run.trial_id} was not started: the executor closed")
            return
        try:
            command, env = self._prepare(run, spec)
        except Exception as exc:  # any failure must still end in START_FAILED
            if not isinstance(exc, ValueError | TypeError | OSError):
                log.exception("%s: preparing trial %s failed", self.name, run.trial_id)
            self._fail(run, f"trial {run.trial_id} could not start: {exc}")
            return
        try:
            if spec.on_launch is not None:  # stored before the process starts
                spec.on_launch(self.name, str(run.trial_dir))
        except Exception as exc:
            log.warning("%s: storing where trial %s starts failed: %s", self.name,
                        run.trial_id, exc)
            self._fail(run, f"trial {run.trial_id} was not started: storing its folder "
                            f"failed: {exc}")
            return
        with self._lock:
            if run.stop_requested or self._closing.is_set():
                reason = "it was stopped" if run.stop_requested else "the executor closed"
                failure: str | None = f"trial {run.trial_id} was not started: {reason}"
            else:
                failure = None
                try:
                    run.proc = launch(run.trial_dir, run.trial_dir / CODE_DIR, command, env,
                                      pass_fds=run.lock_fds,
                                      script=run.trial_dir / LAUNCH_FILE)
                    run.pid = run.proc.pid
                except OSError as exc:
                    failure = f"trial {run.trial_id} could not start /bin/sh: {exc}"
                except Exception as exc:  # a value no process can receive (a NUL byte)
                    log.exception("%s: launching trial %s failed", self.name, run.trial_id)
                    failure = f"trial {run.trial_id} could not start: {type(exc).__name__}: {exc}"
            close_all(run.lock_fds)  # the trial's processes hold them now (or nobody)
            run.lock_fds = []
        if failure is not None:
            self._fail(run, failure)
            return
        self._emit(run, ProcessEventKind.STARTED)
        run.pidfd = _pidfd(run.pid)  # our child: its pid cannot be reused before we reap it
        run.splitter = LineSplitter(0)
        self._follows.put(run)
        self._wake()

    def _prepare(self, run: _Run, spec: TrialSpec) -> tuple[str, dict[str, str]]:
        return prepare_trial_dir(run.trial_dir, spec, self.python, self._sdk, run.gpus,
                                 self._shared)

    # --- the follower ----------------------------------------------------------------

    def _follower(self) -> None:
        """Follow every running trial's log and notice its end, until :meth:`close`."""
        followed: list[_Run] = []
        delay = _MIN_DELAY_S
        try:
            while not self._closing.is_set():
                while True:
                    try:
                        followed.append(self._follows.get_nowait())
                    except queue.Empty:
                        break
                busy = False
                for run in list(followed):
                    try:
                        done, moved = self._look(run)
                    except Exception as exc:  # e.g. the trial directory was deleted under us
                        log.exception("%s: following trial %s failed", self.name,
                                      run.trial_id)
                        done, moved = True, True
                        self._forget(run)
                        self._end_after_error(run, exc)
                    if done:
                        followed.remove(run)
                    busy = busy or moved
                if busy:
                    delay = _MIN_DELAY_S
                    continue
                self._sleep(followed, delay)
                delay = min(delay * 2, _MAX_DELAY_S)
        finally:  # closing: leave the processes running; a last thread reaps ours
            for run in followed:
                self._forget(run)
            children = [run.proc for run in followed if run.proc is not None]
            if children:
                threading.Thread(target=_reap, args=(children,), daemon=True,
                                 name=f"sweeplab-reap-{self.name}").start()

    def _look(self, run: _Run) -> tuple[bool, bool]:
        """One look at a followed trial: its end, then its new log lines. Returns
        (it has ended and said so, something happened)."""
        if not run.ended and self._has_ended(run):
            run.ended = True
            self._end_leftovers(run)  # before the rest of the log: they write too
        if run.log_file is None:
            run.log_file = _open_at(run.trial_dir / LOG_FILE,
                                    run.splitter.offset if run.splitter else 0)
        splitter = run.splitter if run.splitter is not None else LineSplitter(0)
        run.splitter = splitter
        data = run.log_file.read(_CHUNK) if run.log_file is not None else b""
        if data:
            lines = splitter.feed(data)
            if lines:
                self._emit(run, ProcessEventKind.OUTPUT, lines=tuple(lines),
                           offset=splitter.offset)
            return False, True
        if not run.ended:
            return False, False
        self._forget(run)
        tail = splitter.finish()
        if tail:
            self._emit(run, ProcessEventKind.OUTPUT, lines=tuple(tail), offset=splitter.offset)
        exit_code = read_exit_code(run.trial_dir)
        self._release(run)
        self._emit(run, ProcessEventKind.EXITED, offset=splitter.offset, exit_code=exit_code)
        return True, True

    @staticmethod
    def _forget(run: _Run) -> None:
        """Close what the follower holds open for ``run``."""
        if run.log_file is not None:
            run.log_file.close()
            run.log_file = None
        if run.pidfd is not None:
            os.close(run.pidfd)
            run.pidfd = None

    def _sleep(self, followed: list[_Run], timeout: float) -> None:
        """Wait up to ``timeout`` s for a followed wrapper to end or a :meth:`_wake`."""
        waiter = select.poll()
        waiter.register(self._wake_read, select.POLLIN)
        for run in followed:
            if run.pidfd is not None and not run.ended:
                waiter.register(run.pidfd, select.POLLIN)
        if waiter.poll(timeout * 1000):
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 4096)

    def _has_ended(self, run: _Run) -> bool:
        if run.proc is not None:
            return run.proc.poll() is not None  # also reaps the wrapper
        if read_exit_code(run.trial_dir) is not None:
            return True
        if run.pid is None:  # re-attached without a pid: the pid file is all we have
            record = read_pid_file(run.trial_dir)
            if record is None:
                return True  # never started, or its files are gone
            run.pid, run.start_time = record.pid, record.start_time
        return not is_alive(run.pid, run.start_time)

    def _end_leftovers(self, run: _Run) -> None:
        """The trial's main command ended: end what it left running in its process
        group or session (SIGTERM, SIGKILL after
        :data:`~app.engine.processes.LEFTOVER_GRACE_S`), which may hold its slot locks,
        before the slots are released (a batch system's rule, see the README)."""
        if run.pid is None:
            return
        if run.proc is None:  # re-attached: the wrapper may be writing its last lines
            deadline = time.monotonic() + _WRAPPER_END_S
            while is_alive(run.pid, run.start_time) and time.monotonic() < deadline:
                time.sleep(_MIN_DELAY_S)
        left = end_leftovers(run.pid)
        if left:
            log.info("%s: trial %s ended with %d of its processes still running; they "
                     "were ended: %s", self.name, run.trial_id, len(left),
                     " ".join(map(str, left)))

    def _fail(self, run: _Run, message: str) -> None:
        log.info("%s: %s", self.name, message)
        close_all(run.lock_fds)
        run.lock_fds = []
        self._release(run)
        self._emit(run, ProcessEventKind.START_FAILED, message=message)

    def _release(self, run: _Run) -> None:
        with self._lock:
            if self._runs.get(run.trial_id) is run:
                del self._runs[run.trial_id]
                self._slots.release(run.gpus)

    def _emit(self, run: _Run, kind: ProcessEventKind, **fields: Any) -> None:
        self._events.put(ProcessEvent(
            trial_id=run.trial_id, kind=kind, host=self.name, pid=run.pid, gpus=run.gpus,
            trial_dir=str(run.trial_dir), **fields,
        ))


def _reap(children: list[TrialProcess]) -> None:
    """Wait for wrappers this process started and no longer follows (we are their
    parent: unreaped, each would stay a zombie until we exit)."""
    for child in children:
        child.wait()


def _wake_pipe() -> tuple[int, int]:
    """A non-blocking pipe (read end, write end) that wakes the follower."""
    read, write = os.pipe()
    for fd in (read, write):
        os.set_blocking(fd, False)
    return read, write


def _pidfd(pid: int | None) -> int | None:
    """A descriptor that becomes readable when process ``pid`` ends (Linux 5.3+), or
    None where there is none: the follower then looks every 5 to 100 ms."""
    opener = getattr(os, "pidfd_open", None)
    if pid is None or opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


if TYPE_CHECKING:
    from app.engine.ports import Executor

    def _is_an_executor(executor: LocalExecutor) -> Executor:
        return executor  # mypy checks LocalExecutor against the protocol here


def _open_at(path: Path, offset: int) -> BinaryIO | None:
    """The log opened for reading at ``offset``, or None while it does not exist."""
    try:
        log_file = path.open("rb")
    except FileNotFoundError:
        return None
    log_file.seek(offset)
    return log_file
