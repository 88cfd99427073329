"""When each trial last changed (``trials.updated_at``), indexed per experiment.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column, empty for the trials there (they change no more, or get it when
    they do), and its index."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_trials_experiment_id_updated_at",
                           ["experiment_id", "updated_at"])


def downgrade() -> None:
    """Drop the index and the column."""
    with op.batch_alter_table("trials") as batch:
        batch.drop_index("ix_trials_experiment_id_updated_at")
        batch.drop_column("updated_at")
