"""Worker liveness: a heartbeat of its own for each worker, apart from its dispatch ticks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scheduler.store.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("alive_at", UTCDateTime(), nullable=True))
        # A worker is registered by its first heartbeat, before it has ticked.
        batch.alter_column("last_tick_at", existing_type=UTCDateTime(), nullable=True)
    # Rows from before this revision: their last tick is the last sign of life they gave.
    op.execute("UPDATE workers SET alive_at = last_tick_at")
    with op.batch_alter_table("workers") as batch:
        batch.alter_column("alive_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    op.execute("UPDATE workers SET last_tick_at = alive_at WHERE last_tick_at IS NULL")
    with op.batch_alter_table("workers") as batch:
        batch.alter_column("last_tick_at", existing_type=UTCDateTime(), nullable=False)
        batch.drop_column("alive_at")
