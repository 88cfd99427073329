"""Trials remember whether early stopping may prune them (a re-run may be exempt).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``trials.early_stopping``: "scheduled" for every existing trial (each was open
    to its experiment's scheduler)."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("early_stopping", sa.String(16), nullable=False,
                                   server_default="scheduled"))


def downgrade() -> None:
    """Drop ``trials.early_stopping``."""
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("early_stopping")
