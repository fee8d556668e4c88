"""Indexes for the reconciler (unknown sends) and for recent-message counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_reminders_unknown",
        "reminders",
        ["updated_at"],
        sqlite_where=sa.text("status = 'unknown'"),
        postgresql_where=sa.text("status = 'unknown'"),
    )
    op.create_index("ix_messages_created_at", "messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_reminders_unknown", table_name="reminders")
