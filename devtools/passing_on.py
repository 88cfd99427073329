"""A real executor seen through the executor port, for tests and benchmarks that watch
or change what it tells the runner."""

from __future__ import annotations

from app.engine.ports import Executor
from app.engine.records import ProcessEvent, TrialSpec


class PassingOn:
    """A real executor seen through the executor port, every call passed on: a test
    changes what it needs (its events, in :meth:`poll`) in a subclass."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner
        self.name = inner.name

    def free_slots(self) -> int:
        return self._inner.free_slots()

    def capacity(self) -> int:
        return self._inner.capacity()

    def busy_reason(self) -> str:
        return self._inner.busy_reason()

    def submit(self, spec: TrialSpec) -> None:
        self._inner.submit(spec)

    def poll(self, timeout: float) -> list[ProcessEvent]:
        return self._inner.poll(timeout)

    def stop(self, trial_id: int, grace: float) -> None:
        self._inner.stop(trial_id, grace)

    def close(self) -> None:
        self._inner.close()
