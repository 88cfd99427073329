"""Stops one trial of a LocalExecutor run by a process that ignores SIGINT and blocks
SIGINT and SIGTERM, as ``nohup``, ``&`` in a script, some launchers and service
managers start Sweeplab. Prints one JSON line: the trial's exit code, how long the
stop took, and its log.

Usage: python ignoring_parent.py WORK_ROOT ARCHIVE CONTENT_HASH COMMAND
"""

import json
import signal
import sys
import time
from pathlib import Path

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

from app.engine.records import ProcessEventKind, Snapshot, TrialSpec  # noqa: E402
from app.remote.local import LocalExecutor  # noqa: E402

work, archive, content_hash, command = sys.argv[1:5]
executor = LocalExecutor(Path(work), gpus=[], cpu_slots=1, grace=30.0)
executor.submit(TrialSpec(trial_id=1, experiment_id=1, command=command, params={},
                          snapshot=Snapshot(Path(archive), content_hash, None, False)))
lines: list[str] = []
exit_code = None
stopped_at = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    for event in executor.poll(0.05):
        if event.kind is ProcessEventKind.OUTPUT:
            lines.extend(event.lines)
        elif event.kind in (ProcessEventKind.EXITED, ProcessEventKind.START_FAILED):
            exit_code = event.exit_code
            deadline = 0
    if stopped_at is None and "ready" in lines:
        stopped_at = time.monotonic()
        executor.stop(1)
took = None if stopped_at is None else time.monotonic() - stopped_at
executor.close()
print(json.dumps({"exit_code": exit_code, "took": took, "lines": lines}))
