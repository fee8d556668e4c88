"""A batch of claimed texts read and written with Core statements, not the ORM's unit of work.

The dispatcher reads every text it holds, with its patient and session, in a few SELECTs of plain
columns, and hands the gates and the composer detached `Reminder`, `Patient` and `Appointment`
objects built from those rows (no session, no identity map, no flush). What the gates and the
composer change on the texts is written back in one statement per batch, only where this worker
still holds the claim; new attempt rows go in with one multi-row INSERT.

On PostgreSQL a batch's updates are one `UPDATE ... FROM unnest(...)` statement; on SQLite an
executemany of one prepared UPDATE (SQLite runs it in C, row after row, inside the same write lock).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session as DbSession

from scheduler.store.models import Appointment, Base, Message, Patient, Reminder
from scheduler.store.outbox import SENDING, among, is_postgresql

M = TypeVar("M", bound=Base)

REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
APPOINTMENTS: Table = Appointment.__table__  # type: ignore[assignment]

# What the gates and the composer may change on a claimed text, and so what is written back.
_MUTABLE = ("status", "reason", "claimed_by", "lease_until", "due_at", "attempts", "message_id")
_REMINDER_COLUMNS = (
    "id",
    "patient_id",
    "appointment_id",
    "plan_key",
    "kind",
    "due_at",
    "deadline",
    "status",
    "reason",
    "attempts",
    "claimed_by",
    "lease_until",
    "message_id",
    "updated_at",
)
_PATIENT_COLUMNS = (
    "id",
    "phone",
    "timezone",
    "protocol",
    "status",
    "opted_out_at",
    "phone_invalid_at",
    "language",
)


class HeldTexts:
    """The texts of one batch this worker holds, as detached objects, and what became of them."""

    def __init__(self, db: DbSession, worker: str) -> None:
        self.db = db
        self.worker = worker
        self.patients: dict[int, Patient] = {}
        self._texts: dict[int, tuple[Reminder, tuple[Any, ...]]] = {}

    def load(self, reminder_ids: Collection[int]) -> dict[int, Reminder]:
        """The texts among `reminder_ids` this worker still holds, locked, by id (and their patients
        in `patients`, not locked: the gates only read them)."""
        if not reminder_ids:
            return {}
        r, p = REMINDERS.c, Patient.__table__.c
        columns = [r[name] for name in _REMINDER_COLUMNS]
        patient_columns = [p[name].label(f"p_{name}") for name in _PATIENT_COLUMNS if name != "id"]
        rows = (
            self.db.connection()
            .execute(
                select(*columns, *patient_columns)
                .join_from(REMINDERS, Patient.__table__, p.id == r.patient_id)
                .where(among(self.db, r.id, reminder_ids), SENDING, r.claimed_by == self.worker)
                .with_for_update(of=REMINDERS)
            )
            .all()
        )
        found: dict[int, Reminder] = {}
        for row in rows:
            values = row._mapping
            if values["patient_id"] not in self.patients:
                self.patients[values["patient_id"]] = detached(
                    Patient,
                    {
                        "id": values["patient_id"],
                        **{name: values[f"p_{name}"] for name in _PATIENT_COLUMNS[1:]},
                    },
                )
            reminder = detached(Reminder, {name: values[name] for name in _REMINDER_COLUMNS})
            self._texts[reminder.id] = (reminder, _snapshot(reminder))
            found[reminder.id] = reminder
        return found

    def appointments(self, appointment_ids: Iterable[int | None]) -> dict[int, Appointment]:
        """Detached sessions by id (read only)."""
        wanted = {i for i in appointment_ids if i is not None}
        if not wanted:
            return {}
        rows = self.db.connection().execute(select(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(wanted))).all()
        return {row.id: detached(Appointment, dict(row._mapping)) for row in rows}

    def write_back(self, now: datetime) -> int:
        """Write what changed on the held texts, only where this worker still holds them (it does:
        they are locked). How many rows changed."""
        changed = []
        for reminder, before in self._texts.values():
            if _snapshot(reminder) != before:
                changed.append({"rid": reminder.id, **{name: getattr(reminder, name) for name in _MUTABLE}})
        if not changed:
            return 0
        update_held(self.db, changed, self.worker, now)
        for reminder, _before in self._texts.values():
            self._texts[reminder.id] = (reminder, _snapshot(reminder))
        return len(changed)


def _snapshot(reminder: Reminder) -> tuple[Any, ...]:
    return tuple(getattr(reminder, name) for name in _MUTABLE)


def detached(cls: type[M], values: Mapping[str, Any]) -> M:
    """An object of a mapped class holding `values`, made as the ORM makes the objects it loads
    (no constructor, no attribute events: about 2 µs against 70 for `cls(**values)`). It belongs
    to no session: changes to it are written back by hand."""
    made: M = cls.__mapper__.class_manager.new_instance()
    made.__dict__.update(values)
    return made


def update_held(db: DbSession, rows: Sequence[Mapping[str, Any]], worker: str, now: datetime) -> None:
    """Set the columns named in `rows` (each with `rid`, the reminder's id, and the same keys) on
    the reminders this worker still holds: one statement for the batch."""
    names = [k for k in rows[0] if k != "rid"]
    if is_postgresql(db):
        _update_from_values(db, "reminders", rows, {"now": now, "worker": worker}, held=True)
        return
    db.connection().execute(
        update(REMINDERS)
        .where(REMINDERS.c.id == bindparam("rid"), SENDING, REMINDERS.c.claimed_by == worker)
        .values({**{name: bindparam(f"b_{name}") for name in names}, "updated_at": now}),
        _prefixed(rows, "rid"),
    )


def update_messages(db: DbSession, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Set the columns named in `rows` (each with `mid`, the message's id) on those messages."""
    names = [k for k in rows[0] if k != "mid"]
    if is_postgresql(db):
        _update_from_values(db, "messages", rows, {"now": now}, held=False)
        return
    db.connection().execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == bindparam("mid"))
        .values({**{name: bindparam(f"b_{name}") for name in names}, "updated_at": now}),
        _prefixed(rows, "mid"),
    )


def _prefixed(rows: Sequence[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    """Parameters for an executemany: a bind parameter may not take a column's own name."""
    return [{(k if k == key else f"b_{k}"): v for k, v in row.items()} for row in rows]


def update_sent(
    db: DbSession,
    messages: Sequence[Mapping[str, Any]],
    texts: Sequence[Mapping[str, Any]],
    worker: str,
    now: datetime,
) -> None:
    """`update_messages` and `update_held` together: on PostgreSQL one statement (the messages'
    UPDATE in a WITH clause), one round trip to the server."""
    if not is_postgresql(db):
        update_messages(db, messages, now)
        update_held(db, texts, worker, now)
        return
    first, params = _unnest_update(db, "messages", messages, "m")
    second, more = _unnest_update(db, "reminders", texts, "r", held=True)
    statement = text(f"WITH sent AS ({first} RETURNING 1) {second}").bindparams(
        bindparam("now", type_=REMINDERS.c.updated_at.type)
    )
    db.connection().execute(statement, {**params, **more, "now": now, "worker": worker})


def _update_from_values(
    db: DbSession,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    fixed: dict[str, Any],
    *,
    held: bool,
) -> None:
    sql, params = _unnest_update(db, table, rows, "u", held=held)
    statement = text(sql).bindparams(bindparam("now", type_=REMINDERS.c.updated_at.type))
    db.connection().execute(statement, {**params, **fixed})


def _unnest_update(
    db: DbSession, table: str, rows: Sequence[Mapping[str, Any]], prefix: str, *, held: bool = False
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: `UPDATE table SET ... FROM unnest(ids, col1, ...) AS v WHERE id = v.id` and its
    parameters, one array per column: the statement's text is the same for every batch, so the
    server and the driver prepare it once. `:now` (and `:worker` when `held`) are left to bind."""
    target = REMINDERS if table == "reminders" else MESSAGES
    key = "rid" if table == "reminders" else "mid"
    names = [k for k in rows[0] if k != key]
    dialect = db.get_bind().dialect
    params: dict[str, Any] = {f"{prefix}k": [row[key] for row in rows]}
    arrays = [f"CAST(:{prefix}k AS bigint[])"]
    for j, name in enumerate(names):
        column_type = target.c[name].type
        process = column_type.bind_processor(dialect)
        values = [row[name] for row in rows]
        params[f"{prefix}{j}"] = [process(v) for v in values] if process else values
        arrays.append(f"CAST(:{prefix}{j} AS {column_type.compile(dialect)}[])")
    sets = ", ".join(f"{name} = {prefix}v.{name}" for name in names)
    where = f"{table}.id = {prefix}v.{key}"
    if held:
        where += f" AND {table}.status = 'sending' AND {table}.claimed_by = :worker"
    sql = (
        f"UPDATE {table} SET {sets}, updated_at = :now "
        f"FROM unnest({', '.join(arrays)}) AS {prefix}v ({key}, {', '.join(names)}) WHERE {where}"
    )
    return sql, params


def insert_messages(db: DbSession, messages: Sequence[Message]) -> list[int]:
    """Insert new attempt rows in one statement; their ids, in order."""
    if not messages:
        return []
    rows = [
        {
            "reminder_id": m.reminder_id,
            "patient_id": m.patient_id,
            "to": m.to,
            "body": m.body,
            "status": m.status,
            "worker": m.worker,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
        }
        for m in messages
    ]
    if is_postgresql(db):
        return _insert_from_arrays(db, rows)
    result = db.connection().execute(
        insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


def _insert_from_arrays(db: DbSession, rows: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: `INSERT ... SELECT * FROM unnest(arrays) RETURNING id, reminder_id`, one array
    parameter per column. Each new message leads with a different text, so `reminder_id` says
    which id is whose."""
    dialect = db.get_bind().dialect
    names = list(rows[0])
    params: dict[str, Any] = {}
    arrays = []
    for j, name in enumerate(names):
        column_type = MESSAGES.c[name].type
        process = column_type.bind_processor(dialect)
        values = [row[name] for row in rows]
        params[f"c{j}"] = [process(v) for v in values] if process else values
        arrays.append(f"CAST(:c{j} AS {column_type.compile(dialect)}[])")
    quoted = ", ".join(f'"{name}"' for name in names)
    statement = text(
        f"INSERT INTO messages ({quoted}) SELECT * FROM unnest({', '.join(arrays)}) RETURNING id, reminder_id"
    )
    ids = {
        int(reminder_id): int(message_id)
        for message_id, reminder_id in db.connection().execute(statement, params)
    }
    return [ids[row["reminder_id"]] for row in rows]
