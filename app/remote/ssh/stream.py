"""Reading one trial helper's channel: :class:`HelperStream`.

The helper (:data:`app.remote.ssh.scripts.TRIAL_HELPER`) writes the trial's
``output.log`` from a byte offset on stdout and control lines on stderr (``@ready``,
``@started PID``, ``@failed WHY``, ``@end CODE SIZE``). This class cuts stdout into
complete lines with their offsets (:class:`~app.remote.logtail.LineSplitter`), keeps
stdout bytes past the end size out, and parses the control lines.
"""

from __future__ import annotations

import logging
import time

import paramiko

from app.remote.logtail import LineSplitter
from app.remote.ssh.connection import close_channel, read_available, wait_readable
from app.remote.ssh.scripts import MARK

log = logging.getLogger(__name__)

MAX_DIAGNOSTIC_LINES = 20


class HelperStream:
    """The reading side of one helper channel (one thread reads it).

    Args:
        channel: the exec channel running the helper.
        offset: the log offset the helper streams from.
        name: the server's name, for log lines.
    """

    def __init__(self, channel: paramiko.Channel, offset: int, name: str) -> None:
        self.channel = channel
        self.splitter = LineSplitter(offset)
        self.received = offset
        self.name = name
        self.started_pid: int | None = None
        self.ready = False
        """The helper set the trial up and waits for ``go`` before starting it."""
        self.failed: str | None = None
        self.busy: str | None = None
        """The GPU place kind (``gpu3``) another run holds all of, said instead of
        ``@started``."""
        self.ended = False
        self.exit_code: int | None = None
        self.end_size: int | None = None
        self.diagnostics: list[str] = []
        self._err = bytearray()
        self._eof = False

    @property
    def eof(self) -> bool:
        """The channel ended (or broke); nothing more will come."""
        return self._eof

    @property
    def complete(self) -> bool:
        """The trial ended and every byte of its log up to the end size has arrived."""
        return self.ended and (self.end_size is None or self.received >= self.end_size)

    def pump(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` s for data; return the complete log lines it brought."""
        channel = self.channel
        wait_readable(channel, timeout)
        out = bytearray()
        read_available(channel, out, self._err)
        if channel.eof_received or channel.closed:
            read_available(channel, out, self._err, limit=1 << 62)
            self._eof = not (channel.recv_ready() or channel.recv_stderr_ready())
        self._parse_control()
        if self.end_size is not None and self.received + len(out) > self.end_size:
            del out[max(0, self.end_size - self.received):]  # written after the end
        self.received += len(out)
        return self.splitter.feed(bytes(out)) if out else []

    def pump_until(self, done: float, *, ready: bool = False) -> list[str]:
        """Read until ``@started`` or ``@failed`` arrives (or ``@ready`` when ``ready``,
        or the channel ends, or ``done``, a ``time.monotonic()`` value, passes); return
        the log lines that came with it (a fast trial's output may arrive in the same
        read)."""
        lines: list[str] = []
        while (self.started_pid is None and self.failed is None and not self._eof
               and not (ready and self.ready)):
            remaining = done - time.monotonic()
            if remaining <= 0:
                break
            lines += self.pump(remaining)
        return lines

    def _parse_control(self) -> None:
        while True:
            cut = self._err.find(b"\n")
            if cut < 0:
                if self._eof and self._err:
                    cut = len(self._err)
                else:
                    return
            line = self._err[:cut].decode("utf-8", "replace").rstrip("\r")
            del self._err[: cut + 1]
            self._control(line)

    def _control(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == f"{MARK}started":
            try:
                self.started_pid = int(rest)
            except ValueError:
                self.failed = f"the server's helper sent a bad pid {rest!r}"
        elif word == f"{MARK}ready":
            self.ready = True
        elif word == f"{MARK}failed":
            self.failed = rest
        elif word == f"{MARK}busy":
            self.busy = rest.strip()
        elif word == f"{MARK}end":
            code, _, size = rest.partition(" ")
            self.ended = True
            self.exit_code = _int_or_none(code)
            self.end_size = _int_or_none(size)
        elif line.strip():
            log.debug("%s: helper says: %s", self.name, line)
            if len(self.diagnostics) < MAX_DIAGNOSTIC_LINES:
                self.diagnostics.append(line)

    def close(self) -> None:
        """Close the channel: the helper stops its ``tail`` and exits."""
        close_channel(self.channel)


def _int_or_none(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None
