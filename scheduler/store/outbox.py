"""The outbox's statements, all in one place: how texts are claimed, held, released and looked up.

The whole concurrency story of sending is here:

- `claim_due`: one statement moves due texts to `sending` under this worker's lease, oldest first.
  PostgreSQL skips rows another worker has locked (FOR UPDATE SKIP LOCKED); SQLite runs the same
  statement inside BEGIN IMMEDIATE, which admits one writer at a time.
- `abandoned`: a claim nobody holds any more is claimable again, that is how a dead worker's
  texts are recovered: at once when its worker is gone (its heartbeat stopped: `gone_workers`),
  and in any case when its lease has run out (a worker alive but stuck).
- `held` and `held_batch`: the rows this worker still holds, locked; a result is recorded only
  on those (record-where-held). Another worker may have taken a claim whose lease ran out.
- `interrupted_attempts`: attempts a worker started but never finished (it died mid-send). Their
  texts are in doubt and are looked up at the provider before anything else happens to them.
- `unknown_sends`: sends whose outcome is unknown (a timeout, a 5xx), for the reconciler.
- `claim_more`: texts due later the same day, taken early to share a message due now.
- `release`: how a claim ends.
- `claim_events`: the same claim for events to POST or alerts to text (`events` table).

Whoever takes over an abandoned claim meets the attempt its worker left `submitting`, if any, and
looks it up at the provider before sending again (`interrupted_attempts`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.dml import ReturningUpdate

from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.store.models import Event, Message, Patient, Reminder, Worker

_REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]

# The partial index ix_reminders_due covers exactly these rows. SQLite's planner (and a generic plan
# in PostgreSQL) only uses it when the query repeats its predicate with literals, not parameters.
CLAIMABLE: ColumnElement[bool] = Reminder.status.in_(
    [literal_column("'pending'"), literal_column("'sending'")]
)
PENDING: ColumnElement[bool] = Reminder.status == literal_column("'pending'")
SENDING: ColumnElement[bool] = Reminder.status == literal_column("'sending'")
# The partial index ix_reminders_unknown: sends whose outcome the reconciler must look up.
UNKNOWN: ColumnElement[bool] = Reminder.status == literal_column("'unknown'")


_IdColumn = (
    ColumnElement[int]
    | ColumnElement[int | None]
    | InstrumentedAttribute[int]
    | InstrumentedAttribute[int | None]
)


def is_postgresql(db: DbSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def among(db: DbSession, column: _IdColumn, ids: Collection[int]) -> ColumnElement[bool]:
    """`column IN (ids)`; on PostgreSQL `column = ANY(:ids)`, one array parameter, so that the
    statement's text does not change with the number of ids and is prepared once."""
    if is_postgresql(db):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
    return column.in_(ids)


def among_bound(postgresql: bool, column: _IdColumn, name: str) -> ColumnElement[bool]:
    """As `among`, for a statement built once: the ids are bound per call under `name` as one text
    (`bound_ids`) that the database splits, so the statement's text never changes and neither
    psycopg nor SQLAlchemy handles the ids one by one. PostgreSQL: `= ANY(string_to_array(...))`;
    SQLite: `IN (SELECT value FROM json_each(...))`. Both look the ids up by primary key."""
    ids = bindparam(name, type_=String())
    if postgresql:
        return column == any_(cast(func.string_to_array(ids, literal_column("','")), ARRAY(BigInteger)))
    return column.in_(select(func.json_each(ids).table_valued("value").c.value))


def bound_ids(postgresql: bool, ids: Iterable[int]) -> str:
    """The value for an `among_bound` parameter: '1,2,3' on PostgreSQL, '[1,2,3]' on SQLite."""
    joined = ",".join(map(str, ids))
    return joined if postgresql else f"[{joined}]"


def gone_workers(silent_since: datetime | ColumnElement[datetime]) -> Select[str]:
    """The workers whose heartbeat stopped before `silent_since`: dead, or cut off for so long that
    they hold back their own sends (see `dispatch.liveness`)."""
    return select(Worker.id).where(Worker.alive_at < silent_since)


def abandoned(
    now: datetime | ColumnElement[datetime],
    silent_since: datetime | ColumnElement[datetime],
    table: type[Reminder] | type[Event] = Reminder,
) -> ColumnElement[bool]:
    """A `sending` claim nobody holds any more: its worker is gone, or its lease ran out.

    A worker that never recorded a heartbeat (a test's dispatcher, say) has no row, so only its
    lease ends its claims."""
    return or_(table.lease_until < now, table.claimed_by.in_(gone_workers(silent_since)))


def _claim_statement(postgresql: bool) -> ReturningUpdate[tuple[int, Any]]:
    """`claim_due`'s statement, its values left to bind (built once per dialect)."""
    now = bindparam("now", type_=_REMINDERS.c.due_at.type)
    due = (
        select(Reminder.id)
        .where(
            CLAIMABLE,
            Reminder.due_at <= now,
            or_(PENDING, abandoned(now, bindparam("silent_since", type_=_REMINDERS.c.due_at.type))),
        )
        .order_by(Reminder.due_at, Reminder.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if postgresql:
        due = due.with_for_update(of=Reminder, skip_locked=True)
    return (
        update(_REMINDERS)
        .where(_REMINDERS.c.id.in_(due.scalar_subquery()))
        .values(
            status=ReminderStatus.SENDING,
            claimed_by=bindparam("worker"),
            lease_until=bindparam("lease_until"),
            attempts=_REMINDERS.c.attempts + 1,
            updated_at=now,
        )
        # The due time only orders the batch: as the driver returns it (text in one fixed format
        # on SQLite, an instant on PostgreSQL), both of which sort in time order.
        .returning(_REMINDERS.c.id, type_coerce(_REMINDERS.c.due_at, String()))
    )


_CLAIM_STATEMENTS = {postgresql: _claim_statement(postgresql) for postgresql in (False, True)}


def claim_due(
    db: DbSession, worker: str, now: datetime, lease_until: datetime, limit: int, silent_since: datetime
) -> list[int]:
    """Claim up to `limit` due texts (oldest first), including abandoned claims: ones whose worker
    has been silent since before `silent_since`, or whose lease ran out.

    Returns their ids in the order they should go out.
    """
    # A Core statement on the session's connection: nothing in the session needs to hear of it.
    claimed = (
        db.connection()
        .execute(
            _CLAIM_STATEMENTS[is_postgresql(db)],
            {
                "now": now,
                "silent_since": silent_since,
                "limit": limit,
                "worker": worker,
                "lease_until": lease_until,
            },
        )
        .all()
    )
    return [int(i) for i, _due in sorted(claimed, key=lambda r: (r[1], r[0]))]


def held(db: DbSession, reminder_id: int, worker: str) -> Reminder | None:
    """The reminder, locked, if this worker still holds its claim; None if the claim was lost."""
    reminder = db.scalars(select(Reminder).where(Reminder.id == reminder_id).with_for_update()).one_or_none()
    if reminder is None or reminder.status != ReminderStatus.SENDING or reminder.claimed_by != worker:
        return None
    return reminder


def held_batch(db: DbSession, reminder_ids: Collection[int], worker: str) -> dict[int, Reminder]:
    """The reminders among `reminder_ids` this worker still holds, locked, by id."""
    rows = db.scalars(
        select(Reminder)
        .where(Reminder.id.in_(reminder_ids), SENDING, Reminder.claimed_by == worker)
        .with_for_update()
    )
    return {r.id: r for r in rows}


def held_with_patients(
    db: DbSession, reminder_ids: Collection[int], worker: str
) -> dict[int, tuple[Reminder, Patient]]:
    """As `held_batch`, with each reminder's patient (not locked: gates only read it)."""
    rows = db.execute(
        select(Reminder, Patient)
        .join(Patient, Patient.id == Reminder.patient_id)
        .where(Reminder.id.in_(reminder_ids), SENDING, Reminder.claimed_by == worker)
        .with_for_update(of=Reminder)
    ).all()
    return {reminder.id: (reminder, patient) for reminder, patient in rows}


def interrupted_attempts(db: DbSession, reminder_ids: Collection[int]) -> dict[int, list[Message]]:
    """Attempts left `submitting` (their worker died mid-send), oldest first, by reminder: those
    that led with the reminder and the one that last carried it."""
    if not reminder_ids:
        return {}
    carried: dict[int, int] = {
        reminder_id: message_id
        for reminder_id, message_id in db.execute(
            select(Reminder.id, Reminder.message_id).where(
                among(db, Reminder.id, reminder_ids), Reminder.message_id.is_not(None)
            )
        )
        if message_id is not None
    }
    found: dict[int, list[Message]] = {}
    for message in db.scalars(
        select(Message)
        .where(
            Message.status == MessageStatus.SUBMITTING,
            among(db, Message.reminder_id, reminder_ids) | among(db, Message.id, carried.values()),
        )
        .order_by(Message.id)
    ):
        for reminder_id in reminder_ids:
            if message.reminder_id == reminder_id or carried.get(reminder_id) == message.id:
                found.setdefault(reminder_id, []).append(message)
    return found


@dataclass(frozen=True)
class UnknownSend:
    reminder_id: int
    message_id: int
    to: str
    body: str
    attempted_at: datetime


def unknown_sends(db: DbSession, settled_before: datetime, limit: int) -> Sequence[UnknownSend]:
    """Texts whose send is `unknown` since before `settled_before`, longest waiting first, with
    the message that carried them."""
    rows = db.execute(
        select(Reminder.id, Message.id, Message.to, Message.body, Message.created_at)
        .join(Message, Message.id == Reminder.message_id)
        .where(UNKNOWN, Reminder.updated_at <= settled_before, Message.status == MessageStatus.UNKNOWN)
        .order_by(Reminder.updated_at)
        .limit(limit)
    ).all()
    return [UnknownSend(*row) for row in rows]


def claim_more(
    db: DbSession, worker: str, reminder_ids: Collection[int], now: datetime, lease_until: datetime
) -> list[int]:
    """Claim texts that are not due yet, to go out early with a message due now (they would
    otherwise need a second message that day). Only pending ones are taken."""
    if not reminder_ids:
        return []
    claimed = db.execute(
        update(Reminder)
        .where(Reminder.id.in_(reminder_ids), PENDING)
        .values(
            status=ReminderStatus.SENDING,
            claimed_by=worker,
            lease_until=lease_until,
            attempts=Reminder.attempts + 1,
            updated_at=now,
        )
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    )
    return [int(row.id) for row in claimed]


def record_sent(reminder: Reminder, provider_sid: str | None, now: datetime) -> None:
    """End a claim on a text the provider took."""
    reminder.provider_sid = provider_sid
    reminder.sent_at = now
    reminder.error_code = None
    release(reminder, now, status=ReminderStatus.SENT, count_attempt=True)


def release(
    reminder: Reminder,
    now: datetime,
    *,
    status: ReminderStatus = ReminderStatus.PENDING,
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


def claim_events(
    db: DbSession, worker: str, now: datetime, lease_until: datetime, limit: int, silent_since: datetime
) -> list[int]:
    """Claim up to `limit` due events (oldest first), including abandoned claims."""
    due = (
        select(Event.id)
        .where(
            Event.status.in_([literal_column("'pending'"), literal_column("'sending'")]),
            Event.due_at <= now,
            or_(Event.status == literal_column("'pending'"), abandoned(now, silent_since, Event)),
        )
        .order_by(Event.due_at, Event.id)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=Event, skip_locked=True)
    claimed = db.execute(
        update(Event)
        .where(Event.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            claimed_by=worker,
            lease_until=lease_until,
            attempts=Event.attempts + 1,
            updated_at=now,
        )
        .returning(Event.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(int(row.id) for row in claimed)
