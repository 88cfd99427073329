"""Who drives an experiment (``experiments.driver``, ``experiments.driver_seen``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the lease columns, empty: no experiment is driven during a migration."""
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("driver", sa.String(255), nullable=True))
        batch.add_column(sa.Column("driver_seen", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the lease columns."""
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("driver_seen")
        batch.drop_column("driver")
