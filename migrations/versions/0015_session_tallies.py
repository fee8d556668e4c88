"""The weekly reports' session figures, kept by the database as it goes (`session_tallies`).

A report counts the sessions of twelve weeks by start, outcome and confirmation. Read from the
sessions, that is one row per session: at a clinic chain, some 150,000. The tallies hold a count
per quarter hour of start, status, whether a confirm request went out and whether the patient
confirmed: the same twelve weeks are a few thousand rows, whatever the clinic's size.

Triggers on `appointments` write the tallies, whatever writes the session (enrolment, staff, a
reply, the count of confirm requests the texts keep): a session that is added, changed in one of
those four respects, or removed adds a row of +1 for what it is now and one of -1 for what it
was. The rows are only ever added, so concurrent writers never wait on one another; the worker
folds them every minute (`store.tallies.fold`). The tallies of the sessions already booked are
written here once.

A quarter hour is `floor(epoch / 900)`: every time zone's offset since 1980 is a whole number of
quarter hours, so a clinic's week starts on one in UTC and a report's weeks are whole runs of them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "slot, status, asked, confirmed, sessions, folded"
SQLITE_SLOT = "CAST(strftime('%s', {row}.starts_at) AS INTEGER) / 900"
POSTGRESQL_SLOT = "floor(extract(epoch FROM {row}.starts_at) / 900)::bigint"
OUTCOMES = ["starts_at", "status", "confirmed_at", "confirm_requests_sent"]  # as 0014 made it
TRIGGERS = ("appointments_tally_insert", "appointments_tally_update", "appointments_tally_delete")


def tally(row: str, sessions: int, slot: str) -> str:
    """A row of the tallies: the session `row` (NEW or OLD) counted `sessions` times."""
    return (
        f"INSERT INTO session_tallies ({COLUMNS}) VALUES ({slot.format(row=row)}, {row}.status,"
        f" {row}.confirm_requests_sent > 0, {row}.confirmed_at IS NOT NULL, {sessions}, false)"
    )


def changed(distinct: str) -> str:
    """Whether an update changed what a session is counted as (`distinct`: the dialect's
    null-safe inequality)."""
    return " OR ".join(
        f"({old}) {distinct} ({new})"
        for old, new in (
            ("OLD.starts_at", "NEW.starts_at"),
            ("OLD.status", "NEW.status"),
            ("OLD.confirm_requests_sent > 0", "NEW.confirm_requests_sent > 0"),
            ("OLD.confirmed_at IS NULL", "NEW.confirmed_at IS NULL"),
        )
    )


WATCHED = "starts_at, status, confirm_requests_sent, confirmed_at"
SQLITE = (
    f"""CREATE TRIGGER appointments_tally_insert AFTER INSERT ON appointments
    BEGIN {tally("NEW", 1, SQLITE_SLOT)}; END""",
    f"""CREATE TRIGGER appointments_tally_update AFTER UPDATE OF {WATCHED} ON appointments
    WHEN {changed("IS NOT")}
    BEGIN {tally("OLD", -1, SQLITE_SLOT)}; {tally("NEW", 1, SQLITE_SLOT)}; END""",
    f"""CREATE TRIGGER appointments_tally_delete AFTER DELETE ON appointments
    BEGIN {tally("OLD", -1, SQLITE_SLOT)}; END""",
)
POSTGRESQL = (
    # As `reminders_confirm_sent` (0014): the tables' schema, whatever the writer's search path.
    f"""CREATE FUNCTION appointments_tally() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN {tally("OLD", -1, POSTGRESQL_SLOT)}; END IF;
        IF TG_OP <> 'DELETE' THEN {tally("NEW", 1, POSTGRESQL_SLOT)}; END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER appointments_tally_insert AFTER INSERT ON appointments FOR EACH ROW
    EXECUTE FUNCTION appointments_tally()""",
    f"""CREATE TRIGGER appointments_tally_update AFTER UPDATE OF {WATCHED} ON appointments
    FOR EACH ROW WHEN ({changed("IS DISTINCT FROM")}) EXECUTE FUNCTION appointments_tally()""",
    """CREATE TRIGGER appointments_tally_delete AFTER DELETE ON appointments FOR EACH ROW
    EXECUTE FUNCTION appointments_tally()""",
)


def backfill(slot: str) -> str:
    row = slot.format(row="a")
    return (
        f"INSERT INTO session_tallies ({COLUMNS}) SELECT {row}, a.status, a.confirm_requests_sent > 0,"
        " a.confirmed_at IS NOT NULL, count(*), true FROM appointments a"
        f" GROUP BY {row}, a.status, a.confirm_requests_sent > 0, a.confirmed_at IS NOT NULL"
    )


def upgrade() -> None:
    op.create_table(
        "session_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asked", sa.Boolean(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_tallies")),
    )
    op.create_index(
        "ix_session_tallies_slot", "session_tallies", ["slot", "status", "asked", "confirmed", "sessions"]
    )
    where = sa.text("NOT folded")
    op.create_index(
        "ix_session_tallies_unfolded", "session_tallies", ["slot"], sqlite_where=where, postgresql_where=where
    )
    postgresql = _postgresql()
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    op.execute(backfill(POSTGRESQL_SLOT if postgresql else SQLITE_SLOT))
    # Only the reports read the sessions by these; now they read the tallies.
    op.drop_index("ix_appointments_outcomes", table_name="appointments")


def downgrade() -> None:
    op.create_index("ix_appointments_outcomes", "appointments", OUTCOMES)
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON appointments" if _postgresql() else ""))
    if _postgresql():
        op.execute("DROP FUNCTION IF EXISTS appointments_tally()")
    op.drop_index("ix_session_tallies_unfolded", table_name="session_tallies")
    op.drop_index("ix_session_tallies_slot", table_name="session_tallies")
    op.drop_table("session_tallies")


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"
