"""A batch of claimed texts read and written with Core statements, not the ORM's unit of work.

The dispatcher reads every text it holds, with its patient and session, in a few SELECTs of plain
columns, and hands the gates and the composer detached `Reminder`, `Patient` and `Appointment`
objects built from those rows (no session, no identity map, no flush). What the gates and the
composer change on the texts is written back in one statement per batch, only where this worker
still holds the claim; new attempt rows go in with one multi-row INSERT.

On PostgreSQL a batch's updates are one `UPDATE ... FROM unnest(...)` statement, on SQLite one
`UPDATE ... FROM json_each(...)`: the rows travel as one parameter, and the database runs through
them in one step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Dialect, Integer, Select, Table, bindparam, select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.store.models import Appointment, Base, Message, Patient, Reminder
from scheduler.store.outbox import SENDING, among_bound, bound_ids, is_postgresql

M = TypeVar("M", bound=Base)

REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
APPOINTMENTS: Table = Appointment.__table__  # type: ignore[assignment]
PATIENTS: Table = Patient.__table__  # type: ignore[assignment]

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


def _load_statement(postgresql: bool) -> Select[Any]:
    """The held texts among `:ids` with their patients, the texts locked (built once per dialect)."""
    r, p = REMINDERS.c, PATIENTS.c
    return (
        select(*[r[name] for name in _REMINDER_COLUMNS], *[p[name] for name in _PATIENT_COLUMNS[1:]])
        .join_from(REMINDERS, PATIENTS, p.id == r.patient_id)
        .where(among_bound(postgresql, r.id, "ids"), SENDING, r.claimed_by == bindparam("worker"))
        .with_for_update(of=REMINDERS)
    )


_LOAD = {postgresql: _load_statement(postgresql) for postgresql in (False, True)}


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
        rows = (
            self.db.connection()
            .execute(
                _LOAD[postgresql := is_postgresql(self.db)],
                {"ids": bound_ids(postgresql, reminder_ids), "worker": self.worker},
            )
            .all()
        )
        # Rows are read by position: a Row's mapping looks each name up (about 2 µs a column).
        split = len(_REMINDER_COLUMNS)
        found: dict[int, Reminder] = {}
        for row in rows:
            values = dict(zip(_REMINDER_COLUMNS, row[:split], strict=True))
            patient_id = values["patient_id"]
            if patient_id not in self.patients:
                self.patients[patient_id] = detached(
                    Patient, dict(zip(_PATIENT_COLUMNS, (patient_id, *row[split:]), strict=True))
                )
            reminder = detached(Reminder, values)
            self._texts[reminder.id] = (reminder, _snapshot(reminder))
            found[reminder.id] = reminder
        return found

    def appointments(self, appointment_ids: Iterable[int | None]) -> dict[int, Appointment]:
        """Detached sessions by id (read only)."""
        wanted = {i for i in appointment_ids if i is not None}
        if not wanted:
            return {}
        result = self.db.connection().execute(select(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(wanted)))
        names = list(result.keys())
        return {row[0]: detached(Appointment, dict(zip(names, row, strict=True))) for row in result}

    def carry(self, reminders: Iterable[Reminder], message_id: int) -> None:
        """Point texts at the message about to carry them; written back with the rest."""
        for reminder in reminders:
            # Into the object's dict, as `_snapshot` reads it: an attribute set would run the
            # ORM's change events (several µs a text) for an object no session will flush.
            reminder.__dict__["message_id"] = message_id

    def write_back(self, now: datetime) -> int:
        """Write what changed on the held texts, only where this worker still holds them (it does:
        they are locked). How many rows changed."""
        # Rows that changed the same columns go in one statement (most often only `message_id`:
        # the texts about to be sent); the other columns are as they were, the rows being locked.
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for reminder_id, (reminder, before) in self._texts.items():
            after = _snapshot(reminder)
            if after == before:
                continue
            differ = [
                (name, new) for name, new, old in zip(_MUTABLE, after, before, strict=True) if new != old
            ]
            changed.setdefault(tuple(name for name, _new in differ), []).append(
                {"rid": reminder_id, **dict(differ)}
            )
            self._texts[reminder_id] = (reminder, after)
        for rows in changed.values():
            update_held(self.db, rows, self.worker, now)
        return sum(len(rows) for rows in changed.values())


_MUTABLE_VALUES = itemgetter(*_MUTABLE)


def _snapshot(reminder: Reminder) -> tuple[Any, ...]:
    # A detached object keeps every loaded column in its __dict__ (see `detached`), and setting
    # an attribute writes there: read it directly, not through the attribute descriptors.
    values: tuple[Any, ...] = _MUTABLE_VALUES(reminder.__dict__)
    return values


def detached(cls: type[M], values: Mapping[str, Any]) -> M:
    """An object of a mapped class holding `values`, made as the ORM makes the objects it loads
    (no constructor, no attribute events: about 2 µs against 70 for `cls(**values)`). It belongs
    to no session: changes to it are written back by hand."""
    made: M = cls.__mapper__.class_manager.new_instance()
    made.__dict__.update(values)
    return made


def update_held(db: DbSession, rows: Sequence[Mapping[str, Any]], worker: str, now: datetime) -> None:
    """Set the columns named in `rows` (each with `rid`, the reminder's id, and the same keys) on
    the reminders this worker still holds: one statement for the batch, its rows one parameter
    per column on PostgreSQL (`unnest`), one JSON parameter on SQLite (`json_each`), bound as
    SQLAlchemy would bind them. The statement's text depends only on the columns, so the server
    and the driver prepare it once."""
    dialect = db.get_bind().dialect
    names = [k for k in rows[0] if k != "rid"]
    assert names, "nothing to set"
    columns = {name: _bound(REMINDERS, name, (row[name] for row in rows), dialect) for name in names}
    stamp = _bound(REMINDERS, "updated_at", [now], dialect)[0]
    if not is_postgresql(db):
        values = json.dumps(
            [[row["rid"], *bound] for row, *bound in zip(rows, *columns.values(), strict=True)]
        )
        sets = "".join(f'"{name}" = {_item(j + 1)}, ' for j, name in enumerate(names))
        db.connection().exec_driver_sql(
            f"UPDATE reminders SET {sets}updated_at = ? FROM json_each(?) AS v "
            f"WHERE reminders.id = {_item(0)} AND reminders.status = 'sending' AND reminders.claimed_by = ?",
            (stamp, values, worker),
        )
        return
    params: dict[str, Any] = {"ids": _joined(row["rid"] for row in rows), "now": stamp, "worker": worker}
    arrays = [_ints("ids")]
    for j, name in enumerate(names):
        column_type = REMINDERS.c[name].type
        if isinstance(column_type, Integer):
            params[f"c{j}"] = _joined(columns[name])
            arrays.append(_ints(f"c{j}"))
        else:
            params[f"c{j}"] = columns[name]
            arrays.append(_array(f"c{j}", column_type.compile(dialect)))
    db.connection().exec_driver_sql(
        f"UPDATE reminders SET {', '.join(f'{name} = v.{name}' for name in names)}, updated_at = %(now)s "
        f"FROM unnest({', '.join(arrays)}) AS v (rid, {', '.join(names)}) "
        "WHERE reminders.id = v.rid AND reminders.status = 'sending' AND reminders.claimed_by = %(worker)s",
        params,
    )


# Bind processors by table, column and dialect: what SQLAlchemy would apply to each value.
_PROCESSORS: dict[tuple[str, str, Dialect], Callable[[Any], Any] | None] = {}


def _processor(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    key = (table.name, name, dialect)
    if key not in _PROCESSORS:
        # The dialect's own implementation of the type (on SQLite, DATETIME writes its text form).
        column_type = table.c[name].type
        _PROCESSORS[key] = column_type.dialect_impl(dialect).bind_processor(dialect)
    return _PROCESSORS[key]


def _bound(table: Table, name: str, values: Iterable[Any], dialect: Dialect) -> list[Any]:
    """`values` of the column `name` as the driver takes them."""
    process = _processor(table, name, dialect)
    values = list(values)
    if process is None:
        return values
    if values and all(v is values[0] for v in values):
        return [process(values[0])] * len(values)  # one instant for the batch (`now`), bound once
    return [process(v) for v in values]


def _item(index: int) -> str:
    """SQLite: element `index` of the json_each row `v` (a JSON array), as its SQL value."""
    return f"json_extract(v.value, '$[{index}]')"


def update_sent(
    db: DbSession,
    messages: Sequence[tuple[int, str, str | None]],
    texts: Sequence[tuple[int, str | None]],
    worker: str,
    now: datetime,
) -> None:
    """The provider took these messages (`messages`: id, status, provider's id): set them, and end
    the claim on each text they carried (`texts`: id, provider's id) as sent, where this worker
    still holds it. On PostgreSQL one statement (the messages' UPDATE in a WITH clause), one round
    trip to the server; on SQLite one UPDATE ... FROM json_each for each table."""
    dialect = db.get_bind().dialect
    sent = _bound(REMINDERS, "status", [ReminderStatus.SENT], dialect)[0]
    stamp = _bound(REMINDERS, "updated_at", [now], dialect)[0]
    text_sets = (
        "status = {sent}, provider_sid = {sid}, sent_at = {now}, error_code = NULL, reason = NULL, "
        "claimed_by = NULL, lease_until = NULL, updated_at = {now}"
    )
    if not is_postgresql(db):
        connection = db.connection()
        connection.exec_driver_sql(
            f"UPDATE messages SET status = {_item(1)}, provider_sid = {_item(2)}, updated_at = ? "
            f"FROM json_each(?) AS v WHERE messages.id = {_item(0)}",
            (stamp, json.dumps(messages)),
        )
        connection.exec_driver_sql(
            f"UPDATE reminders SET {text_sets.format(sent='?', sid=_item(1), now='?')} "
            f"FROM json_each(?) AS v WHERE reminders.id = {_item(0)} "
            "AND reminders.status = 'sending' AND reminders.claimed_by = ?",
            (sent, stamp, stamp, json.dumps(texts), worker),
        )
        return
    sid_type = MESSAGES.c.provider_sid.type.compile(dialect)
    status_type = MESSAGES.c.status.type.compile(dialect)
    db.connection().exec_driver_sql(
        "WITH sent AS (UPDATE messages SET status = v.status, provider_sid = v.sid, updated_at = %(now)s "
        f"FROM unnest({_ints('mids')}, {_array('statuses', status_type)}, "
        f"{_array('msids', sid_type)}) AS v (mid, status, sid) WHERE messages.id = v.mid RETURNING 1) "
        f"UPDATE reminders SET {text_sets.format(sent='%(sent)s', sid='v.sid', now='%(now)s')} "
        f"FROM unnest({_ints('rids')}, {_array('rsids', sid_type)}) AS v (rid, sid) "
        "WHERE reminders.id = v.rid AND reminders.status = 'sending' AND reminders.claimed_by = %(worker)s",
        {
            "mids": _joined(m[0] for m in messages),
            "statuses": [m[1] for m in messages],
            "msids": [m[2] for m in messages],
            "rids": _joined(t[0] for t in texts),
            "rsids": [t[1] for t in texts],
            "sent": sent,
            "now": stamp,
            "worker": worker,
        },
    )


def _ints(name: str) -> str:
    """PostgreSQL: the parameter `name`, integers (or NULLs) as one text ('1,,3', see `_joined`),
    split by the server into a bigint[]: cheaper to send than a list psycopg dumps in Python."""
    return f"CAST(string_to_array(%({name})s, ',', '') AS bigint[])"


def _joined(values: Iterable[int | None]) -> str:
    return ",".join("" if v is None else str(v) for v in values)


def _array(name: str, element_type: str) -> str:
    """PostgreSQL: the array parameter `name`, sent in binary (psycopg dumps a list in text form
    element by element in Python, quoting each string), as an array of `element_type`."""
    return f"CAST(%({name})b AS {element_type}[])"


class NewMessage(NamedTuple):
    """An attempt about to be made: the text it leads with, its patient, the number and the words."""

    reminder_id: int
    patient_id: int
    to: str
    body: str


_MESSAGE_COLUMNS = ("reminder_id", "patient_id", "to", "body", "status", "worker", "created_at", "updated_at")


def insert_messages(db: DbSession, messages: Sequence[NewMessage], worker: str, now: datetime) -> list[int]:
    """Insert new attempt rows (`submitting`, by `worker`, made `now`) with one statement: from
    arrays on PostgreSQL, from one JSON parameter on SQLite.
    Their ids, in order. Each new message leads with a different text, so `reminder_id` says
    which returned id is whose."""
    if not messages:
        return []
    dialect = db.get_bind().dialect
    shared = (
        MessageStatus.SUBMITTING.value,
        worker,
        *_bound(MESSAGES, "created_at", [now, now], dialect),
    )
    quoted = ", ".join(f'"{name}"' for name in _MESSAGE_COLUMNS)
    connection = db.connection()
    ids: dict[int, int] = {}
    if is_postgresql(db):
        # One text for a batch of any size, prepared once (a VALUES list of placeholders would be
        # parsed again each time by psycopg, which caches only short statements); what the whole
        # batch shares is one parameter each, the rest an array a column.
        types = [MESSAGES.c[name].type.compile(dialect) for name in _MESSAGE_COLUMNS]
        rows = connection.exec_driver_sql(
            f"INSERT INTO messages ({quoted}) SELECT v.rid, v.pid, v.phone, v.words, "
            + ", ".join(f"CAST(%(s{j})s AS {types[4 + j]})" for j in range(len(shared)))
            + f" FROM unnest({_ints('reminder_ids')}, {_ints('patient_ids')}, {_array('to', types[2])}, "
            f"{_array('body', types[3])}) AS v (rid, pid, phone, words) RETURNING id, reminder_id",
            {
                "reminder_ids": _joined(m.reminder_id for m in messages),
                "patient_ids": _joined(m.patient_id for m in messages),
                "to": [m.to for m in messages],
                "body": [m.body for m in messages],
                **{f"s{j}": value for j, value in enumerate(shared)},
            },
        )
        ids.update((int(reminder_id), int(message_id)) for message_id, reminder_id in rows.all())
        return [ids[m.reminder_id] for m in messages]
    rows = connection.exec_driver_sql(
        f"INSERT INTO messages ({quoted}) SELECT {', '.join(_item(j) for j in range(4))}, ?, ?, ?, ? "
        "FROM json_each(?) AS v RETURNING id, reminder_id",
        (*shared, json.dumps(messages)),
    )
    ids.update((int(reminder_id), int(message_id)) for message_id, reminder_id in rows.all())
    return [ids[m.reminder_id] for m in messages]
