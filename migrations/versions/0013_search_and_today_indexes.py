"""Indexes for a large clinic's Today list (change requests, opt-outs, flagged numbers), the
patients staff must act on, and finding a patient by name, phone number or record number among
many.

The search indexes are PostgreSQL's and the migrations' own: the models do not describe
expression or trigram indexes, so `migrations/env.py` leaves every `ix_search_*` index out of
autogenerate. A search asks for any part of the name, the end of the number or the record number
(`records.matching_search`), which together only these serve: trigram indexes from the `pg_trgm`
extension, created here where the database allows it (a trusted extension since PostgreSQL 13:
the database owner may create it), and the lowered record number. Without pg_trgm, or on SQLite
(a single clinic's size), a search reads every patient.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partial indexes: (name, table, column, predicate).
PARTIAL = (
    ("ix_patients_opted_out_at", "patients", "opted_out_at", "opted_out_at IS NOT NULL"),
    ("ix_patients_phone_invalid_at", "patients", "phone_invalid_at", "phone_invalid_at IS NOT NULL"),
    ("ix_patients_hold_reason", "patients", "hold_reason", "hold_reason IS NOT NULL"),
    (
        "ix_appointments_change_requested_at",
        "appointments",
        "change_requested_at",
        "change_requested_at IS NOT NULL",
    ),
)
TRIGRAM = (
    ("ix_search_patients_name", "lower(name)"),
    ("ix_search_patients_phone", "phone"),
)
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    for name, table, column, where in PARTIAL:
        op.create_index(name, table, [column], sqlite_where=sa.text(where), postgresql_where=sa.text(where))
    if op.get_context().dialect.name != "postgresql":
        return
    if op.get_context().as_sql:  # SQL for a DBA to run: pg_trgm where the search path finds it
        opclass: str | None = "gin_trgm_ops"
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    else:
        schema = _trigram_schema(op.get_bind())
        opclass = None if schema is None else f'"{schema}".gin_trgm_ops'
    if opclass is not None:
        for name, expression in TRIGRAM:
            op.execute(f"CREATE INDEX {name} ON patients USING gin ({expression} {opclass})")
        op.execute("CREATE INDEX ix_search_patients_record ON patients (lower(external_id))")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name in ("ix_search_patients_record", *(name for name, _expression in TRIGRAM)):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, _column, _where in reversed(PARTIAL):
        op.drop_index(name, table_name=table)


def _trigram_schema(bind: sa.Connection) -> str | None:
    """The schema `pg_trgm` is installed in (a managed server may keep extensions in a schema of
    their own), installing it if it is available and allowed; None without it."""
    installed = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_trgm'"
    )
    schema = bind.scalar(installed)
    if schema is None and bind.scalar(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ):
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION pg_trgm"))
            schema = bind.scalar(installed)
        except sa.exc.DBAPIError as error:
            log.warning("pg_trgm could not be created (%s)", type(error.orig).__name__)
    if schema is None:
        log.warning("no pg_trgm: patient searches by name or number will read every patient")
    return None if schema is None else str(schema)
