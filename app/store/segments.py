"""The store's segments of trials under population-based training
(:class:`~app.engine.pbt.Segment`, :class:`~app.engine.pbt.SegmentRepository`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.engine.pbt import Segment
from app.engine.ports import NotFound
from app.store import validate
from app.store.lookup import SessionScope
from app.store.models import SegmentRow, TrialRow, utc_now

_CHANGEABLE = {"end_step", "trial_dir", "start_step", "checkpoint_step"}


class SegmentRecords:
    """The segments table of one database; :class:`~app.store.store.Store` owns one and
    hands its methods on.

    Args:
        session: the store's session scope; every method is one call of it.
    """

    def __init__(self, session: SessionScope) -> None:
        self._session = session

    def add_segment(self, trial_id: int, index: int, start_step: int,
                    params: dict[str, Any], donor_trial_id: int | None,
                    checkpoint_step: int | None, restore_from: str | None = None) -> Segment:
        """Store a new segment of the trial (see :class:`SegmentRepository`).

        Raises:
            ValueError: a negative index or step, or params JSON cannot hold.
            NotFound: no such trial (or donor).
            StoreError: the trial has a segment with that index already.
        """
        where = f"add_segment(trial {trial_id}, {index})"
        for name, value in (("index", index), ("start_step", start_step)):
            if type(value) is not int or value < 0:
                raise ValueError(f"{where}: {name} must be a whole number >= 0, got {value!r}")
        params = validate.json_dict(params, f"{where}: params")
        with self._session(write=True) as session:
            for key in (trial_id, donor_trial_id):
                if key is not None and session.get(TrialRow, key) is None:
                    raise NotFound(f"{where}: no trial with id {key}")
            row = SegmentRow(trial_id=trial_id, index=index, start_step=start_step,
                             end_step=None, params=params, donor_trial_id=donor_trial_id,
                             checkpoint_step=checkpoint_step, created_at=utc_now(),
                             restore_from=restore_from)
            session.add(row)
            session.flush()
            return _record(session, row)

    def update_segment(self, trial_id: int, index: int, **fields: Any) -> Segment:
        """Set ``end_step``, ``trial_dir``, ``start_step`` or ``checkpoint_step``.

        Raises:
            ValueError: another field.
            NotFound: no such segment.
        """
        unknown = set(fields) - _CHANGEABLE
        if unknown:
            raise ValueError(f"update_segment: cannot change {', '.join(sorted(unknown))}")
        with self._session(write=True) as session:
            row = session.scalars(sa.select(SegmentRow).where(
                SegmentRow.trial_id == trial_id, SegmentRow.index == index)).one_or_none()
            if row is None:
                raise NotFound(f"no segment {index} of trial {trial_id}")
            for name, value in fields.items():
                setattr(row, name, value)
            session.flush()
            return _record(session, row)

    def delete_segment(self, trial_id: int, index: int) -> None:
        """Forget a decided segment that never started; a missing one is no error."""
        with self._session(write=True) as session:
            session.execute(sa.delete(SegmentRow).where(SegmentRow.trial_id == trial_id,
                                                        SegmentRow.index == index))

    def segments(self, experiment_id: int) -> list[Segment]:
        """Every segment of the experiment's trials, by trial number then index."""
        donor = sa.orm.aliased(TrialRow)
        query = (sa.select(SegmentRow, TrialRow.number, donor.number)
                 .join(TrialRow, TrialRow.id == SegmentRow.trial_id)
                 .outerjoin(donor, donor.id == SegmentRow.donor_trial_id)
                 .where(TrialRow.experiment_id == experiment_id)
                 .order_by(TrialRow.number, SegmentRow.index))
        with self._session(write=False) as session:
            return [_freeze(row, number, donor_number)
                    for row, number, donor_number in session.execute(query)]


def _record(session: Any, row: SegmentRow) -> Segment:
    number = session.get(TrialRow, row.trial_id).number
    donor = (None if row.donor_trial_id is None
             else session.get(TrialRow, row.donor_trial_id).number)
    return _freeze(row, number, donor)


def _freeze(row: SegmentRow, number: int, donor_number: int | None) -> Segment:
    return Segment(trial_id=row.trial_id, number=number, index=row.index,
                   start_step=row.start_step, end_step=row.end_step, params=dict(row.params),
                   donor_trial_id=row.donor_trial_id, donor_number=donor_number,
                   checkpoint_step=row.checkpoint_step, created_at=row.created_at,
                   trial_dir=row.trial_dir, restore_from=row.restore_from)
