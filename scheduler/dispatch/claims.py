"""The claim: one statement that moves due texts to `sending` under this worker's lease.

PostgreSQL skips rows another worker has locked (FOR UPDATE SKIP LOCKED); SQLite runs the same
statement inside BEGIN IMMEDIATE, which already admits one writer at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, literal_column, or_, select, update
from sqlalchemy.orm import Session

from scheduler.store.models import Reminder

# The partial index ix_reminders_due covers exactly these rows. SQLite's planner (and a generic plan
# in PostgreSQL) only uses it when the query repeats its predicate with literals, not parameters.
CLAIMABLE: ColumnElement[bool] = Reminder.status.in_(
    [literal_column("'pending'"), literal_column("'sending'")]
)
PENDING: ColumnElement[bool] = Reminder.status == literal_column("'pending'")


def claim_due(
    db: Session, worker: str, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[int, int]]:
    """Claim up to `limit` due texts (oldest first), including ones whose lease ran out.

    Returns (reminder id, patient id) pairs in the order they should go out.
    """
    due = (
        select(Reminder.id)
        .where(
            CLAIMABLE,
            Reminder.due_at <= now,
            or_(PENDING, Reminder.lease_until < now),
        )
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = db.execute(
        update(Reminder)
        .where(Reminder.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            claimed_by=worker,
            lease_until=lease_until,
            attempts=Reminder.attempts + 1,
            updated_at=now,
        )
        .returning(Reminder.id, Reminder.patient_id, Reminder.due_at)
        .execution_options(synchronize_session=False)
    )
    rows = sorted(claimed, key=lambda r: (r.due_at, r.id))
    return [(int(r.id), int(r.patient_id)) for r in rows]


def held(db: Session, reminder_id: int, worker: str) -> Reminder | None:
    """The reminder, locked, if this worker still holds its claim; None if the claim was lost."""
    reminder = db.scalars(select(Reminder).where(Reminder.id == reminder_id).with_for_update()).one_or_none()
    if reminder is None or reminder.status != "sending" or reminder.claimed_by != worker:
        return None
    return reminder


def release(
    reminder: Reminder,
    now: datetime,
    *,
    status: str = "pending",
    reason: str | None = None,
    due_at: datetime | None = None,
    count_attempt: bool = False,
) -> None:
    """End this worker's claim; an outcome that was not a send does not count as an attempt."""
    reminder.status = status
    reminder.reason = reason
    reminder.claimed_by = None
    reminder.lease_until = None
    reminder.updated_at = now
    if due_at is not None:
        reminder.due_at = due_at
    if not count_attempt:
        reminder.attempts = max(0, reminder.attempts - 1)
