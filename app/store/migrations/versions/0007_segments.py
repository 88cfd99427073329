"""Population-based training stores each trial's segments (params, steps, donor).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types spelled out here (not imported from the models) so this file never changes.
_UTC = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add the ``segments`` table (empty: no earlier trial ran under PBT)."""
    op.create_table(
        "segments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("trial_id", sa.Integer(), sa.ForeignKey("trials.id", ondelete="CASCADE",
                                                 name="fk_segments_trial_id_trials"),
                  nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("start_step", sa.BigInteger(), nullable=False),
        sa.Column("end_step", sa.BigInteger(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("donor_trial_id", sa.Integer(),
                  sa.ForeignKey("trials.id", ondelete="SET NULL",
                                name="fk_segments_donor_trial_id_trials"), nullable=True),
        sa.Column("checkpoint_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("trial_dir", sa.Text(), nullable=True),
        sa.Column("restore_from", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("trial_id", "index", name="uq_segments_trial_id_index"),
    )
    op.create_index("ix_segments_trial_id", "segments", ["trial_id"])


def downgrade() -> None:
    """Drop the ``segments`` table."""
    op.drop_index("ix_segments_trial_id", table_name="segments")
    op.drop_table("segments")
