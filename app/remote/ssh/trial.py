"""The life of one trial on a server, run by :class:`TrialHost` in the trial's thread.

Launch: upload the snapshot if needed, open a channel, exec the trial helper with the
payload on stdin, wait for ``@started`` (or ``@failed``). Follow: read the log until
``@end`` and every byte up to the end size; when the channel breaks, wait for the
server (``offline_timeout``), re-open a follower from the last complete line, or give
the trial up as LOST. Stop: exec the detached stop helper, once the server answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paramiko

from app.engine.records import LaunchClaim, ProcessEventKind, Snapshot
from app.remote.launcher import PID_FILE
from app.remote.ssh.connection import close_channel
from app.remote.ssh.errors import ConnectionLost, SshError
from app.remote.ssh.scripts import (
    claim_answer,
    claim_command,
    follow_command,
    q,
    snapshot_path,
    stop_command,
)
from app.remote.ssh.session import Link, ServerSession
from app.remote.ssh.stream import HelperStream
from app.remote.ssh.uploads import SnapshotUploadFailed, SnapshotUploads

log = logging.getLogger(__name__)

LAUNCH_TIMEOUT_S = 600.0
"""Longest wait for ``@started``: unpacking a big snapshot on a slow disk takes time."""
END_DRAIN_S = 30.0
"""Longest wait for the last log bytes after ``@end`` before the follower is re-opened."""
PUMP_S = 1.0
RETRY_S = 0.25
MAX_FOLLOW_FAILURES = 5
"""Follows of a trial's log that ended in a row, with nothing read, on a connection that
stayed up (the helper failing there, say), before the trial is ended as unfollowable.
Drops of the server's connections do not count: the offline timeout judges those."""
COMMAND_TIMEOUT_S = 15.0

Emit = Callable[..., None]


@dataclass
class RemoteTrial:
    """One trial an executor follows; fields change under the executor's lock."""

    trial_id: int
    trial_dir: str
    gpus: tuple[int, ...]
    pid: int | None = None
    offset: int = 0
    started: bool = False
    stop_grace: float | None = None
    done: bool = False
    pending_note: str | None = None
    """What the last PENDING event said (the trial's own thread reads and writes it)."""
    thread: threading.Thread | None = field(default=None, repr=False)


class TrialHost:
    """Runs and follows trials on one server for an executor.

    Args:
        name: the server's name, in messages.
        session: the connections.
        offline_timeout: seconds of unreachability before a trial is LOST.
        emit: ``emit(trial, kind, **fields)`` queues an event.
        release: frees a trial's slots (called before its last event).
        closing: set when the executor closes (followers stop quietly).
        lock: the executor's lock, guarding :class:`RemoteTrial` fields.
    """

    def __init__(self, name: str, session: ServerSession, offline_timeout: float,
                 emit: Emit, release: Callable[[RemoteTrial], None],
                 closing: threading.Event, lock: threading.Lock) -> None:
        self.name = name
        self.session = session
        self.offline_timeout = offline_timeout
        self._emit = emit
        self._release = release
        self._closing = closing
        self._lock = lock
        self.uploads = SnapshotUploads(name, session)

    # --- helpers -----------------------------------------------------------------

    @property
    def workdir(self) -> str:
        hello = self.session.hello
        if hello is None:
            raise ConnectionLost(self.name, f"{self.name}: not connected yet")
        return hello.workdir

    def snapshot_path(self, snapshot: Snapshot) -> str:
        """Where the snapshot's archive lives on the server."""
        return snapshot_path(self.workdir, snapshot.content_hash)

    def _wait_online(self) -> bool:
        """Wait for the server while it may still come back; False if LOST or closing."""
        while not self._closing.is_set():
            if self.session.online:
                return True
            since = self.session.offline_since
            now = time.monotonic()
            remaining = (since if since is not None else now) + self.offline_timeout - now
            if remaining <= 0 or self.session.closed:
                return False
            self.session.wait_online(min(remaining, PUMP_S))
        return False

    def _finish(self, trial: RemoteTrial, kind: ProcessEventKind, **fields: Any) -> None:
        with self._lock:
            trial.done = True
        self._release(trial)
        self._emit(trial, kind, **fields)

    def given_up(self, trial: RemoteTrial) -> bool:
        """End a trial not started yet with START_FAILED if it was stopped meanwhile, or
        the executor closed; True then."""
        with self._lock:
            stopped = trial.stop_grace is not None
        if not stopped and not self._closing.is_set():
            return False
        reason = "it was stopped" if stopped else "the executor closed"
        self.start_failed(trial, f"trial {trial.trial_id} was not started: {reason}")
        return True

    def hand_back(self, trial: RemoteTrial, message: str) -> None:
        """Give a trial that was not started back to the runner (RETURNED)."""
        log.info("%s: %s", self.name, message)
        self._finish(trial, ProcessEventKind.RETURNED, message=message)

    def start_failed(self, trial: RemoteTrial, message: str) -> None:
        """End a trial that never started with START_FAILED."""
        log.info("%s: %s", self.name, message)
        self._finish(trial, ProcessEventKind.START_FAILED, message=message)

    def guarded(self, trial: RemoteTrial, work: Callable[[], None]) -> None:
        """Run a trial thread's ``work``; an error it did not expect ends the trial with
        the reason and frees its slot: START_FAILED before it started, EXITED after
        (both end it FAILED; not LOST, which would run the same params again into the
        same error).

        Without this a bug in a trial's thread (or a paramiko error nobody foresaw)
        would end the thread silently and leave the trial QUEUED or RUNNING for ever.
        """
        try:
            work()
        except Exception as exc:
            log.exception("%s: the thread of trial %s failed", self.name, trial.trial_id)
            with self._lock:
                done, started = trial.done, trial.started
            if done or self._closing.is_set():
                return
            reason = f"{type(exc).__name__}: {exc}"
            if not started:
                self.start_failed(trial, f"trial {trial.trial_id} could not start on "
                                         f"{self.name}: {reason}")
                return
            self._finish(trial, ProcessEventKind.EXITED, offset=trial.offset, exit_code=None,
                         message=f"following trial {trial.trial_id} on {self.name} failed "
                                 f"({reason}); it may still be running there")

    def _lost(self, trial: RemoteTrial) -> None:
        message = (f"server {self.name} has not answered for {self.offline_timeout:g} s; "
                   f"trial {trial.trial_id} is lost (it may still be running there)")
        log.warning("%s: %s", self.name, message)
        self._finish(trial, ProcessEventKind.LOST, message=message, offset=trial.offset)

    # --- launch ------------------------------------------------------------------

    def launch(self, trial: RemoteTrial, snapshot: Snapshot, payload: bytes,
               exec_line: str, intent: Callable[[], None] | None = None) -> str | None:
        """Set up and start the trial, then follow it to its end (blocks).

        ``intent`` is called once the trial's folder is ready there and before its
        process starts (it stores where the trial starts); the helper starts nothing
        until it returns, and nothing at all if it raises (START_FAILED then).

        Returns the GPU (``gpu3``) whose places another run holds when the server
        refused the start for that (nothing was done there; the trial goes on waiting),
        else None once the trial has ended.
        """
        opened = self._send_launch(trial, snapshot, payload, exec_line)
        if opened is None:
            return None
        link, stream = opened
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        early = stream.pump_until(deadline, ready=True)
        if stream.ready and stream.started_pid is None and stream.failed is None:
            failure = self._go(stream, intent)
            if failure is not None:
                stream.close()
                self.session.release(link)
                self.start_failed(trial, f"trial {trial.trial_id} was not started: {failure}")
                return None
            early += stream.pump_until(deadline)
        if stream.started_pid is not None:
            with self._lock:
                trial.pid, trial.started = stream.started_pid, True
                trial.offset = stream.splitter.offset
                stop = trial.stop_grace
            self._emit(trial, ProcessEventKind.STARTED)
            if early:
                self._emit(trial, ProcessEventKind.OUTPUT, lines=tuple(early),
                           offset=stream.splitter.offset)
            if stop is not None:
                self.send_stop(trial)
            self._follow_stream(trial, link, stream)
            return None
        stream.close()
        self.session.release(link)
        if stream.busy is not None:
            return stream.busy
        if stream.failed is not None:
            if stream.failed.startswith("cannot unpack the code snapshot"):
                self.uploads.forget(snapshot)  # deleted on the server? send it again
            detail = "; ".join(stream.diagnostics)
            self.start_failed(trial, f"trial {trial.trial_id} could not start on {self.name}: "
                                     f"{stream.failed}" + (f" ({detail})" if detail else ""))
            return None
        if not self._closing.is_set():
            self.session.report_failure(link.conn)
            self._recover(trial)
        return None

    def _go(self, stream: HelperStream, intent: Callable[[], None] | None) -> str | None:
        """Store the launch intent, then tell the waiting helper to start the trial;
        why not, or None once told."""
        try:
            if intent is not None:
                intent()
        except Exception as exc:
            log.warning("%s: storing where a trial starts failed: %s", self.name, exc)
            return f"storing its folder failed: {exc}"
        try:
            stream.channel.sendall(b"go\n")
        except (paramiko.SSHException, OSError, EOFError) as exc:
            log.info("%s: the go to a trial helper was not sent: %s", self.name, exc)
        return None  # a lost go: the channel broke, _recover looks at the server

    def _send_launch(self, trial: RemoteTrial, snapshot: Snapshot, payload: bytes,
                     exec_line: str) -> tuple[Link, HelperStream] | None:
        while True:
            if self.given_up(trial):
                return None
            if not self._wait_online():
                reason = ("the executor closed" if self._closing.is_set() else
                          f"server {self.name} stayed offline for {self.offline_timeout:g} s")
                self.start_failed(trial, f"trial {trial.trial_id} was not started: {reason}")
                return None
            try:
                self.uploads.ensure(snapshot, self.snapshot_path(snapshot))
                link, channel = self.session.open_follower()
            except SnapshotUploadFailed as exc:
                self.start_failed(trial, f"trial {trial.trial_id} could not start: {exc}")
                return None
            except ConnectionLost as exc:
                log.info("%s: trial %s waits for the server: %s", self.name, trial.trial_id, exc)
                self._closing.wait(RETRY_S)
                continue
            try:
                channel.exec_command(exec_line)
                channel.sendall(payload)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                log.info("%s: launching trial %s failed (%s); retrying", self.name,
                         trial.trial_id, exc)
                close_channel(channel)
                self.session.release(link)
                self.session.report_failure(link.conn)
                continue
            return link, HelperStream(channel, 0, self.name)

    def _recover(self, trial: RemoteTrial) -> None:
        """The connection broke during the launch: did the trial start?

        Asked by claiming it (:func:`~app.remote.ssh.scripts.claim_script`): the trial's
        wrapper and the claim both create its ``pid`` file exclusively, so a trial not
        started by then never starts, and the answer is final. (A look for the ``pid``
        file for 2 s took a wrapper slow to start under load for one that never would:
        the trial was ended as not started, then ran, unfollowed, and every point it
        logged was lost.)
        """
        while True:
            if not self._wait_online():
                if not self._closing.is_set():  # fate unknown: it may run there
                    with self._lock:
                        trial.started = True
                    self._emit(trial, ProcessEventKind.STARTED)
                    self._lost(trial)
                return
            claim = self.claim(trial.trial_dir, COMMAND_TIMEOUT_S)
            if claim is not LaunchClaim.UNKNOWN:
                break
            if self._closing.wait(RETRY_S):
                return
        if claim is LaunchClaim.ABANDONED:
            self.hand_back(trial, f"the connection to {self.name} dropped while trial "
                                  f"{trial.trial_id} was being set up; it did not start and "
                                  "waits for a place again")
            return
        with self._lock:
            trial.pid, trial.started = self._pid_of(trial), True
            stop = trial.stop_grace
        self._emit(trial, ProcessEventKind.STARTED)
        if stop is not None:
            self.send_stop(trial)
        self.follow(trial)

    def claim(self, trial_dir: str, timeout: float) -> LaunchClaim:
        """Whether the trial set up in ``trial_dir`` started, settled for good by claiming
        it (:func:`~app.remote.ssh.scripts.claim_command`): STARTED or ABANDONED, else
        UNKNOWN when the server does not answer within ``timeout`` or answers oddly."""
        try:
            result = self.session.run(claim_command(trial_dir), timeout=timeout)
        except SshError as exc:
            log.warning("%s: cannot claim %s: %s", self.name, trial_dir, exc)
            return LaunchClaim.UNKNOWN
        answer = result.stdout.strip()
        claim = claim_answer(answer)
        if claim is None:
            log.warning("%s: claiming %s gave %r", self.name, trial_dir, answer)
            return LaunchClaim.UNKNOWN
        return claim

    def _pid_of(self, trial: RemoteTrial) -> int | None:
        """The started trial's pid, from its ``pid`` file (None when unreadable: the
        follower then reads it there itself)."""
        try:
            result = self.session.run(
                f"head -n 1 {q(trial.trial_dir + '/' + PID_FILE)}", timeout=COMMAND_TIMEOUT_S)
        except SshError:
            return None
        answer = result.stdout.strip()
        return int(answer) if answer.isdigit() else None

    # --- follow ------------------------------------------------------------------

    def follow(self, trial: RemoteTrial) -> None:
        """Follow a started trial from ``trial.offset`` to its end (blocks)."""
        opened = self._open_follower(trial, trial.offset)
        if opened is not None:
            self._follow_stream(trial, *opened)

    def _open_follower(self, trial: RemoteTrial, offset: int
                       ) -> tuple[Link, HelperStream] | None:
        while True:
            if not self._wait_online():
                if not self._closing.is_set():
                    self._lost(trial)
                return None
            try:
                link, channel = self.session.open_follower()
            except ConnectionLost:
                self._closing.wait(RETRY_S)
                continue
            try:
                channel.exec_command(follow_command(self.workdir, trial.trial_dir, offset,
                                                    trial.pid))
            except (paramiko.SSHException, OSError, EOFError, SshError):
                close_channel(channel)
                self.session.release(link)
                self.session.report_failure(link.conn)
                continue
            return link, HelperStream(channel, offset, self.name)

    def _follow_stream(self, trial: RemoteTrial, link: Link, stream: HelperStream) -> None:
        failures = 0
        while True:
            generation = self.session.generation
            progress = self._read(trial, stream)
            stream.close()
            self.session.release(link)
            if self._closing.is_set():
                return
            if stream.complete:
                tail = stream.splitter.finish()
                if tail:
                    self._emit(trial, ProcessEventKind.OUTPUT, lines=tuple(tail),
                               offset=stream.splitter.offset)
                self._finish(trial, ProcessEventKind.EXITED, offset=stream.splitter.offset,
                             exit_code=stream.exit_code)
                return
            self.session.report_failure(link.conn)  # a dead connection: offline now
            # a server whose connections dropped meanwhile (pings that time out under
            # load, a network blip) is the offline timeout's to judge, however often:
            # only a follower failing on a live connection is a failure of its own
            dropped = not self.session.online or self.session.generation != generation
            failures = 0 if progress or dropped else failures + 1
            if failures >= MAX_FOLLOW_FAILURES:
                detail = "; ".join(stream.diagnostics) or "no answer"
                self._finish(trial, ProcessEventKind.EXITED, offset=stream.splitter.offset,
                             exit_code=None, message=f"following the log of trial "
                             f"{trial.trial_id} on {self.name} failed: {detail}")
                return
            if failures:
                self._closing.wait(RETRY_S * failures)
            opened = self._open_follower(trial, stream.splitter.offset)
            if opened is None:
                return
            link, stream = opened

    def _read(self, trial: RemoteTrial, stream: HelperStream) -> bool:
        """Read until the trial is complete or the channel ends; True if anything came."""
        progress = False
        drain_until: float | None = None
        while not stream.complete and not stream.eof and not self._closing.is_set():
            lines = stream.pump(PUMP_S)
            if lines:
                progress = True
                with self._lock:
                    trial.offset = stream.splitter.offset
                self._emit(trial, ProcessEventKind.OUTPUT, lines=tuple(lines),
                           offset=stream.splitter.offset)
            if stream.ended:
                progress = True
                if drain_until is None:
                    drain_until = time.monotonic() + END_DRAIN_S
                elif time.monotonic() > drain_until:
                    log.warning("%s: trial %s: the end of its log did not arrive; re-reading",
                                self.name, trial.trial_id)
                    break
        return progress

    # --- stop --------------------------------------------------------------------

    def send_stop(self, trial: RemoteTrial) -> None:
        """Start the stop escalation on the server from a thread (returns at once)."""
        threading.Thread(target=self._stop_worker, args=(trial,), daemon=True,
                         name=f"sweeplab-{self.name}-stop-{trial.trial_id}").start()

    def _stop_worker(self, trial: RemoteTrial) -> None:
        while True:
            with self._lock:
                if trial.done:
                    return
                grace, pid = trial.stop_grace, trial.pid
            if grace is None or not self._wait_online():
                return
            try:
                self.session.run(stop_command(self.workdir, trial.trial_dir, grace, pid),
                                 timeout=COMMAND_TIMEOUT_S)
                return
            except SshError as exc:
                log.info("%s: stopping trial %s: %s; retrying", self.name, trial.trial_id, exc)
                if self._closing.wait(RETRY_S):
                    return
