"""Indexes for a large clinic: the patient list by name, sessions by status over time, sessions
with no outcome yet, texts in trouble (replies newest first came with 0011).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_patients_name_id", "patients", ["name", "id"]),
    ("ix_appointments_status_starts_at", "appointments", ["status", "starts_at"]),
)
# Partial indexes: (name, table, column, predicate).
PARTIAL = (
    ("ix_appointments_upcoming", "appointments", "starts_at", "status IN ('scheduled', 'confirmed')"),
    ("ix_reminders_in_trouble", "reminders", "due_at", "status IN ('failed', 'expired', 'unknown')"),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    for name, table, column, where in PARTIAL:
        op.create_index(name, table, [column], sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, table, _column, _where in reversed(PARTIAL):
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
