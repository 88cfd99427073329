"""SQLAlchemy 2 declarative models: the database schema of Sweeplab.

Schema changes go through alembic (``app/store/migrations``); a test compares these
models with the migrations so they can never drift apart. The ORM classes stay
inside :mod:`app.store`: the store hands out frozen records, never these rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.remote.ssh.profile import AuthKind
from app.store.types import ExactFloat, LenientJSON, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_LENGTH = 255
"""Longest experiment or server profile name the schema holds."""

# 64-bit ids where rows pile up; SQLite only auto-increments an INTEGER primary key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention (needed by alembic batch mode)."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class ExperimentRow(Base):
    """One experiment: its definition as JSON, its state and its code snapshot."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(LenientJSON)
    state: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    snapshot_hash: Mapped[str | None] = mapped_column(sa.String(128))
    commit: Mapped[str | None] = mapped_column(sa.String(64))
    dirty: Mapped[bool | None] = mapped_column(sa.Boolean)
    driver: Mapped[str | None] = mapped_column(sa.String(255))
    """The program running it now (see app/engine/lease.py); None when none does."""
    driver_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When that program last renewed its lease."""


class TrialRow(Base):
    """One trial, numbered 1, 2, ... within its experiment."""

    __tablename__ = "trials"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "number"),
                      sa.Index("ix_trials_experiment_id_updated_at", "experiment_id",
                               "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(16))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    host: Mapped[str | None] = mapped_column(sa.String(255))
    gpus: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    trial_dir: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(sa.Integer)
    kpi: Mapped[float | None] = mapped_column(ExactFloat)
    error: Mapped[str | None] = mapped_column(sa.Text)
    log_offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    commit: Mapped[str | None] = mapped_column(sa.String(64))
    dirty: Mapped[bool | None] = mapped_column(sa.Boolean)
    rerun_of: Mapped[int | None] = mapped_column(sa.Integer)
    """The number of the trial whose params this one repeats; None for the searcher's."""
    early_stopping: Mapped[str] = mapped_column(sa.String(16), default="scheduled",
                                                server_default="scheduled")
    """:class:`~app.engine.trial.EarlyStopping`: "exempt" for a re-run the scheduler
    must not prune (since 0006)."""
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utc_now,
                                                        onupdate=utc_now)
    """When the row last changed (None: not since the database was upgraded to 0005);
    a program following a run elsewhere reads only the trials changed since its last
    look."""


class MetricRow(Base):
    """One reported value; written in batches, read per trial and name."""

    __tablename__ = "metrics"
    __table_args__ = (sa.Index("ix_metrics_trial_id_name_step", "trial_id", "name", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trial_id: Mapped[int] = mapped_column(sa.ForeignKey("trials.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(255))
    step: Mapped[int | None] = mapped_column(sa.BigInteger)
    value: Mapped[float] = mapped_column(ExactFloat)
    time: Mapped[float] = mapped_column(sa.Double)


class EventRow(Base):
    """A line of an experiment's history."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    trial_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("trials.id", ondelete="SET NULL")
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    kind: Mapped[str] = mapped_column(sa.String(32))
    message: Mapped[str] = mapped_column(sa.Text)


class ServerProfileRow(Base):
    """A saved lab server. No secrets: passwords and passphrases live in the keyring."""

    __tablename__ = "server_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH), unique=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    port: Mapped[int] = mapped_column(sa.Integer, default=22)
    user: Mapped[str] = mapped_column(sa.String(255))
    auth_kind: Mapped[str] = mapped_column(sa.String(16), default=AuthKind.AGENT.value)
    key_file: Mapped[str | None] = mapped_column(sa.Text)
    workdir: Mapped[str] = mapped_column(sa.Text)
    setup_command: Mapped[str | None] = mapped_column(sa.Text)
    python: Mapped[str] = mapped_column(sa.Text, default="python3")
    max_parallel: Mapped[int] = mapped_column(sa.Integer, default=1)
    gpus: Mapped[list[int] | None] = mapped_column(sa.JSON)
    trials_per_gpu: Mapped[int] = mapped_column(sa.Integer, default=1)
    allow_busy_gpus: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class ClusterProfileRow(Base):
    """A saved Slurm cluster; ``login`` names the server profile of its login node (None:
    ``sbatch`` runs on this machine). No secrets: the login server's live in the keyring."""

    __tablename__ = "cluster_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH), unique=True)
    login: Mapped[str | None] = mapped_column(sa.String(NAME_LENGTH))
    workdir: Mapped[str] = mapped_column(sa.Text)
    partition: Mapped[str | None] = mapped_column(sa.String(64))
    account: Mapped[str | None] = mapped_column(sa.String(64))
    qos: Mapped[str | None] = mapped_column(sa.String(64))
    cpus_per_trial: Mapped[int] = mapped_column(sa.Integer, default=1)
    memory: Mapped[str | None] = mapped_column(sa.String(32))
    gpus_per_trial: Mapped[int | None] = mapped_column(sa.Integer)
    max_parallel: Mapped[int] = mapped_column(sa.Integer, default=10)
    setup_command: Mapped[str | None] = mapped_column(sa.Text)
    python: Mapped[str] = mapped_column(sa.Text, default="python3")
    sbatch_args: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class SegmentRow(Base):
    """One segment of a trial under population-based training (since 0007): see
    :class:`app.engine.pbt.Segment`."""

    __tablename__ = "segments"
    __table_args__ = (sa.UniqueConstraint("trial_id", "index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trial_id: Mapped[int] = mapped_column(sa.ForeignKey("trials.id", ondelete="CASCADE"),
                                          index=True)
    index: Mapped[int] = mapped_column(sa.Integer)
    start_step: Mapped[int] = mapped_column(sa.BigInteger)
    end_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    donor_trial_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("trials.id", ondelete="SET NULL"))
    checkpoint_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    trial_dir: Mapped[str | None] = mapped_column(sa.Text)
    restore_from: Mapped[str | None] = mapped_column(sa.Text)
