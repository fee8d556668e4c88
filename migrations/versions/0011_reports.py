"""Indexes for the weekly reports and the exports: sessions by start with their outcome and
confirmation (read from the index alone), confirm requests that went out, opt-outs by time,
texts that failed or expired by due time, and replies by when they arrived.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIRM_SENT = "kind = 'confirm' AND status IN ('sent', 'delivered')"


def upgrade() -> None:
    op.create_index("ix_appointments_outcomes", "appointments", ["starts_at", "status", "confirmed_at"])
    op.create_index(
        "ix_reminders_confirm_sent",
        "reminders",
        ["appointment_id"],
        sqlite_where=sa.text(CONFIRM_SENT),
        postgresql_where=sa.text(CONFIRM_SENT),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action", "at"])
    op.create_index(
        "ix_reminders_troubled",
        "reminders",
        ["due_at"],
        sqlite_where=sa.text("status IN ('failed', 'expired')"),
        postgresql_where=sa.text("status IN ('failed', 'expired')"),
    )
    op.create_index("ix_replies_received_at", "replies", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_reminders_confirm_sent", table_name="reminders")
    op.drop_index("ix_appointments_outcomes", table_name="appointments")
    op.drop_index("ix_replies_received_at", table_name="replies")
    op.drop_index("ix_reminders_troubled", table_name="reminders")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
