"""The text plan: change notices, messages that carry several texts, urgent replies, webhook events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scheduler.store.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("notice", sa.String(16), nullable=True))
        batch.add_column(sa.Column("notice_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_reminders_message_id_messages", "messages", ["message_id"], ["id"])
        batch.create_index("ix_reminders_message_id", ["message_id"])
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_events_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index(
        "ix_events_due",
        "events",
        ["due_at"],
        sqlite_where=sa.text("status IN ('pending', 'sending')"),
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_due", table_name="events")
    op.drop_table("events")
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_index("ix_reminders_message_id")
        batch.drop_constraint("fk_reminders_message_id_messages", type_="foreignkey")
        batch.drop_column("message_id")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("notice_at")
        batch.drop_column("notice")
