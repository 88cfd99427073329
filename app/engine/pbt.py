"""Population-based training's records: a trial's segments, and where they are stored.

Under ``scheduler: pbt`` a trial runs in segments. Segment 0 starts fresh with the
searcher's params. At an exploit the trial ends its segment cleanly (SIGINT), the
donor's newest published checkpoint is copied into a new folder of its own, and the
next segment continues from the donor's step with perturbed params. Each segment is
stored (:class:`Segment`) before anything of it happens, so a resume after a crash
knows what was decided and finishes it.

The population's logic is :class:`app.engine.population.Population`; the exploit and
explore decisions are :mod:`app.engine.schedulers.pbt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Segment:
    """One stretch of a trial's training with one set of params.

    Attributes:
        trial_id: the trial's id.
        number: the trial's number within its experiment.
        index: 0 for the fresh start, then 1, 2, ... per exploit.
        start_step: the step it continues from (0 fresh; the donor's checkpoint step).
        end_step: the last step it reported when it ended; None while it runs (or has
            not started).
        params: the nested params it runs with (segment 0: the searcher's).
        donor_trial_id: the trial whose checkpoint it continues from; None for segment 0.
        donor_number: that trial's number; None for segment 0.
        checkpoint_step: the donor's checkpoint step copied (= ``start_step``); None
            for segment 0.
        created_at: when it was decided (stored).
        trial_dir: its folder on its host, stored before its process starts (the launch
            intent); None until then.
        restore_from: the donor's published checkpoint folder (on the donor's host)
            copied into ``trial_dir`` as ``restore/``; None for segment 0.
    """

    trial_id: int
    number: int
    index: int
    start_step: int
    end_step: int | None
    params: dict[str, Any]
    donor_trial_id: int | None
    donor_number: int | None
    checkpoint_step: int | None
    created_at: datetime
    trial_dir: str | None = None
    restore_from: str | None = None

    @property
    def is_exploit(self) -> bool:
        """It continues another trial's checkpoint (every segment but the first)."""
        return self.donor_trial_id is not None


class SegmentRepository(Protocol):
    """Where segments are stored (the store; injected like the ``TrialRepository``).

    Contract: each method is one transaction; records are frozen snapshots; methods
    may be called from any thread.
    """

    def add_segment(self, trial_id: int, index: int, start_step: int,
                    params: dict[str, Any], donor_trial_id: int | None,
                    checkpoint_step: int | None, restore_from: str | None = None) -> Segment:
        """Store a new segment of the trial. Raises StoreError if ``index`` exists."""
        ...

    def update_segment(self, trial_id: int, index: int, **fields: Any) -> Segment:
        """Set ``end_step`` and/or ``trial_dir`` (also ``start_step``/``checkpoint_step``
        when a resume had to take a newer checkpoint). Raises NotFound."""
        ...

    def delete_segment(self, trial_id: int, index: int) -> None:
        """Forget a decided segment that never started (its trial ended first); a
        missing one is no error."""
        ...

    def segments(self, experiment_id: int) -> list[Segment]:
        """Every segment of the experiment's trials, by trial number then index."""
        ...


def segments_of(segments: Sequence[Segment], trial_id: int) -> list[Segment]:
    """One trial's segments, by index."""
    return sorted((s for s in segments if s.trial_id == trial_id), key=lambda s: s.index)
