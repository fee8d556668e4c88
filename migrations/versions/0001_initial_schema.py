"""Initial schema: patients, appointments, reminders, messages, replies, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scheduler.store.types import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("protocol", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("touch_up_interval_days", sa.Integer(), nullable=True),
        sa.Column("consent_source", sa.String(200), nullable=False),
        _instant("consent_at"),
        _instant("opted_out_at", nullable=True),
        _instant("phone_invalid_at", nullable=True),
        sa.Column("hold_reason", sa.String(40), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
    )
    op.create_index("ix_patients_status", "patients", ["status"])
    # One patient in care per number: inbound replies are matched by it.
    op.create_index(
        "uq_patients_phone_in_care",
        "patients",
        ["phone"],
        unique=True,
        sqlite_where=sa.text("status != 'discharged'"),
        postgresql_where=sa.text("status != 'discharged'"),
    )

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _instant("starts_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(40), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        _instant("booked_at"),
        _instant("confirmed_at", nullable=True),
        _instant("change_requested_at", nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_appointments_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
        sa.UniqueConstraint("patient_id", "kind", "number", name="uq_appointments_patient_id_kind_number"),
    )
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("plan_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _instant("due_at"),
        _instant("deadline", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        _instant("lease_until", nullable=True),
        sa.Column("provider_sid", sa.String(64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        _instant("sent_at", nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name="fk_reminders_appointment_id_appointments"
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_reminders_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.UniqueConstraint("patient_id", "plan_key", name="uq_reminders_patient_id_plan_key"),
    )
    op.create_index("ix_reminders_appointment_id", "reminders", ["appointment_id"])
    # The claim reads only rows that may be sent; a partial index keeps it small at any backlog.
    op.create_index(
        "ix_reminders_due",
        "reminders",
        ["due_at"],
        sqlite_where=sa.text("status IN ('pending', 'sending')"),
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("to", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_sid", sa.String(64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(64), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_messages_patient_id_patients"),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"], name="fk_messages_reminder_id_reminders"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("provider_sid", name="uq_messages_provider_sid"),
    )
    op.create_index("ix_messages_patient_id", "messages", ["patient_id"])
    op.create_index("ix_messages_reminder_id", "messages", ["reminder_id"])

    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("from_number", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_sid", sa.String(64), nullable=True),
        sa.Column("intent", sa.String(16), nullable=False),
        _instant("handled_at", nullable=True),
        _instant("received_at"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_replies_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_replies"),
        sa.UniqueConstraint("provider_sid", name="uq_replies_provider_sid"),
    )
    op.create_index("ix_replies_patient_id", "replies", ["patient_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _instant("at"),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name="fk_audit_log_appointment_id_appointments"
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_audit_log_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_patient_id", "audit_log", ["patient_id"])


def downgrade() -> None:
    for table in ("audit_log", "replies", "messages", "reminders", "appointments", "patients"):
        op.drop_table(table)
