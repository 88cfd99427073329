"""Saved Slurm clusters (``cluster_profiles``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``cluster_profiles`` (empty: no database had clusters before)."""
    op.create_table(
        "cluster_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("login", sa.String(255), nullable=True),
        sa.Column("workdir", sa.Text(), nullable=False),
        sa.Column("partition", sa.String(64), nullable=True),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("qos", sa.String(64), nullable=True),
        sa.Column("cpus_per_trial", sa.Integer(), nullable=False),
        sa.Column("memory", sa.String(32), nullable=True),
        sa.Column("gpus_per_trial", sa.Integer(), nullable=True),
        sa.Column("max_parallel", sa.Integer(), nullable=False),
        sa.Column("setup_command", sa.Text(), nullable=True),
        sa.Column("python", sa.Text(), nullable=False),
        sa.Column("sbatch_args", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_profiles"),
        sa.UniqueConstraint("name", name="uq_cluster_profiles_name"),
    )


def downgrade() -> None:
    """Drop ``cluster_profiles``."""
    op.drop_table("cluster_profiles")
