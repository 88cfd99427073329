"""ORM rows to the frozen records of :mod:`app.engine.records` (and nothing else).

Imports no SQLAlchemy: the reader that lists a SQLite database without it
(:mod:`app.store.listing`) freezes its experiments here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.engine.records import EventRecord, ExperimentRecord, MetricPoint, TrialRecord
from app.engine.trial import EarlyStopping, ExperimentState, TrialState

if TYPE_CHECKING:
    import sqlalchemy as sa

    from app.store.listing import ExperimentColumns
    from app.store.models import EventRow, ExperimentRow, MetricRow, TrialRow


def experiment_record(row: ExperimentRow | ExperimentColumns) -> ExperimentRecord:
    """Freeze one experiments row (an ORM row, or the decoded columns of one)."""
    return ExperimentRecord(
        id=row.id,
        name=row.name,
        definition=dict(row.definition),
        state=ExperimentState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        snapshot_hash=row.snapshot_hash,
        commit=row.commit,
        dirty=row.dirty,
        driver=row.driver,
        driver_seen=row.driver_seen,
    )


def trial_record(row: TrialRow | sa.Row[Any]) -> TrialRecord:
    """Freeze one trials row (an ORM row, or a Core row of every column)."""
    return TrialRecord(
        id=row.id,
        experiment_id=row.experiment_id,
        number=row.number,
        state=TrialState(row.state),
        params=dict(row.params),
        created_at=row.created_at,
        host=row.host,
        gpus=tuple(row.gpus or ()),
        pid=row.pid,
        trial_dir=row.trial_dir,
        started_at=row.started_at,
        ended_at=row.ended_at,
        exit_code=row.exit_code,
        kpi=row.kpi,
        error=row.error,
        log_offset=row.log_offset,
        commit=row.commit,
        dirty=row.dirty,
        rerun_of=row.rerun_of,
        updated_at=row.updated_at,
        early_stopping=EarlyStopping(row.early_stopping),
    )


def metric_point(row: MetricRow) -> MetricPoint:
    """Freeze one metrics row."""
    return MetricPoint(
        trial_id=row.trial_id, name=row.name, value=row.value, step=row.step, time=row.time
    )


def event_record(row: EventRow) -> EventRecord:
    """Freeze one events row."""
    return EventRecord(
        id=row.id,
        experiment_id=row.experiment_id,
        trial_id=row.trial_id,
        time=row.time,
        kind=row.kind,
        message=row.message,
    )
