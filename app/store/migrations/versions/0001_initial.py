"""Initial schema: experiments, trials, metrics, events, server profiles.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types spelled out here (not imported from the models) so this file never changes.
_UTC = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("snapshot_hash", sa.String(128), nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("gpus", sa.JSON(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("trial_dir", sa.Text(), nullable=True),
        sa.Column("started_at", _UTC, nullable=True),
        sa.Column("ended_at", _UTC, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("kpi", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_offset", sa.BigInteger(), nullable=False),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"],
            name="fk_trials_experiment_id_experiments", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trials"),
        sa.UniqueConstraint("experiment_id", "number", name="uq_trials_experiment_id_number"),
    )
    op.create_table(
        "metrics",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name="fk_metrics_trial_id_trials", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
    )
    op.create_index("ix_metrics_trial_id_name_step", "metrics", ["trial_id", "name", "step"])
    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=True),
        sa.Column("time", _UTC, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"],
            name="fk_events_experiment_id_experiments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name="fk_events_trial_id_trials", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_experiment_id", "events", ["experiment_id"])
    op.create_table(
        "server_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("auth_kind", sa.String(16), nullable=False),
        sa.Column("key_file", sa.Text(), nullable=True),
        sa.Column("workdir", sa.Text(), nullable=False),
        sa.Column("setup_command", sa.Text(), nullable=True),
        sa.Column("python", sa.Text(), nullable=False),
        sa.Column("max_parallel", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.JSON(), nullable=True),
        sa.Column("trials_per_gpu", sa.Integer(), nullable=False),
        sa.Column("allow_busy_gpus", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_profiles"),
        sa.UniqueConstraint("name", name="uq_server_profiles_name"),
    )


def downgrade() -> None:
    """Drop every table."""
    op.drop_table("server_profiles")
    op.drop_index("ix_events_experiment_id", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_metrics_trial_id_name_step", table_name="metrics")
    op.drop_table("metrics")
    op.drop_table("trials")
    op.drop_table("experiments")
