"""Trials remember which trial they repeat (a user's re-run, a requeued lost trial).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``trials.rerun_of`` (NULL for every existing trial: each was the searcher's)."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("rerun_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop ``trials.rerun_of``."""
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("rerun_of")
