"""Each session counts its confirm requests that went out (`appointments.confirm_requests_sent`),
kept by the database itself, for the weekly reports; the reports' failed and expired texts are
counted from their index alone; and the message log is read newest first from indexes in the
order it is shown (the texts of one batch share their instant, so the id breaks the tie).

A report's confirmation rate is over the sessions whose patient was sent a confirm request: a
`confirm` text that is sent or delivered. Asking that of the texts, for every session of twelve
weeks, reads every confirm request a clinic ever sent. The count on the session answers it from
the session's own row.

Triggers on `reminders` keep the count, whatever writes the texts (the dispatcher, the
reconciler, a delivery report, an import): one up when a confirm text becomes sent or delivered,
one down when it stops being so (a delivery failure) or goes away. Concurrent changes to one
session's texts each add their own one, so the count stays exact. The count of existing texts is
written here once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OUTCOMES = ["starts_at", "status", "confirmed_at"]
OUTCOMES = [*OLD_OUTCOMES, "confirm_requests_sent"]
TROUBLED = "status IN ('failed', 'expired')"
# (index, table, its columns before, and now)
LOG_ORDER = (
    ("ix_messages_created_at", "messages", ["created_at"], ["created_at", "id"]),
    ("ix_replies_received_at", "replies", ["received_at"], ["received_at", "id"]),
)


def counted(row: str) -> str:
    """Whether the text `row` (NEW or OLD) is a confirm request that went out."""
    return f"{row}.kind = 'confirm' AND {row}.status IN ('sent', 'delivered')"


def change(row: str, by: str) -> str:
    return (
        f"UPDATE appointments SET confirm_requests_sent = confirm_requests_sent {by} 1"
        f" WHERE id = {row}.appointment_id"
    )


# SQLite: a trigger per kind of write; an UPDATE trigger fires only when the count may change.
SQLITE = (
    f"""CREATE TRIGGER reminders_confirm_sent_insert AFTER INSERT ON reminders
    WHEN {counted("NEW")}
    BEGIN {change("NEW", "+")}; END""",
    f"""CREATE TRIGGER reminders_confirm_sent_update AFTER UPDATE OF kind, status, appointment_id ON reminders
    WHEN ({counted("OLD")}) IS NOT ({counted("NEW")}) OR (
        ({counted("OLD")}) AND OLD.appointment_id IS NOT NEW.appointment_id)
    BEGIN
        {change("OLD", "-")} AND {counted("OLD")};
        {change("NEW", "+")} AND {counted("NEW")};
    END""",
    f"""CREATE TRIGGER reminders_confirm_sent_delete AFTER DELETE ON reminders
    WHEN {counted("OLD")}
    BEGIN {change("OLD", "-")}; END""",
)
POSTGRESQL = (
    # The schema the tables are in, whatever the search path of the session writing the text
    # (pg_dump and pg_restore clear theirs).
    f"""CREATE FUNCTION reminders_confirm_sent() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF {counted("OLD")} THEN {change("OLD", "-")}; END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF {counted("NEW")} THEN {change("NEW", "+")}; END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER reminders_confirm_sent_insert AFTER INSERT ON reminders FOR EACH ROW
    WHEN ({counted("NEW")}) EXECUTE FUNCTION reminders_confirm_sent()""",
    f"""CREATE TRIGGER reminders_confirm_sent_update AFTER UPDATE OF kind, status, appointment_id ON reminders
    FOR EACH ROW WHEN (({counted("OLD")}) IS DISTINCT FROM ({counted("NEW")}) OR (
        ({counted("OLD")}) AND OLD.appointment_id IS DISTINCT FROM NEW.appointment_id))
    EXECUTE FUNCTION reminders_confirm_sent()""",
    f"""CREATE TRIGGER reminders_confirm_sent_delete AFTER DELETE ON reminders FOR EACH ROW
    WHEN ({counted("OLD")}) EXECUTE FUNCTION reminders_confirm_sent()""",
)
TRIGGERS = ("reminders_confirm_sent_insert", "reminders_confirm_sent_update", "reminders_confirm_sent_delete")
BACKFILL = f"""UPDATE appointments SET confirm_requests_sent = (
    SELECT count(*) FROM reminders r WHERE r.appointment_id = appointments.id AND {counted("r")})
WHERE id IN (SELECT r.appointment_id FROM reminders r WHERE {counted("r")})"""


def upgrade() -> None:
    op.add_column(
        "appointments",
        sa.Column("confirm_requests_sent", sa.Integer(), server_default="0", nullable=False),
    )
    postgresql = op.get_context().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    op.execute(BACKFILL)
    # The texts were asked which sessions had a request out; the count answers that now.
    op.drop_index("ix_reminders_confirm_sent", table_name="reminders")
    op.drop_index("ix_appointments_outcomes", table_name="appointments")
    op.create_index("ix_appointments_outcomes", "appointments", OUTCOMES)
    _troubled(["due_at", "status"])
    for name, table, _before, now in LOG_ORDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, now)


def downgrade() -> None:
    for name, table, before, _now in LOG_ORDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before)
    _troubled(["due_at"])
    op.drop_index("ix_appointments_outcomes", table_name="appointments")
    op.create_index("ix_appointments_outcomes", "appointments", OLD_OUTCOMES)
    where = sa.text("kind = 'confirm' AND status IN ('sent', 'delivered')")  # as 0011 wrote it
    op.create_index(
        "ix_reminders_confirm_sent",
        "reminders",
        ["appointment_id"],
        sqlite_where=where,
        postgresql_where=where,
    )
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON reminders" if _postgresql() else ""))
    if _postgresql():
        op.execute("DROP FUNCTION IF EXISTS reminders_confirm_sent()")
    # SQLite 3.35 drops a column in place (no index or trigger uses it now): with data, a copy
    # of the table could not be swapped in under the texts' foreign keys.
    op.drop_column("appointments", "confirm_requests_sent")


def _troubled(columns: list[str]) -> None:
    op.drop_index("ix_reminders_troubled", table_name="reminders")
    where = sa.text(TROUBLED)
    op.create_index("ix_reminders_troubled", "reminders", columns, sqlite_where=where, postgresql_where=where)


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"
