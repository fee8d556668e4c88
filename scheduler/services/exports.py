"""Exports as CSV, for the clinic's EHR and for audits: every patient with where their course
stands, and the log of texts and replies over a range of the clinic's days.

An export is audited when it is asked for (who, what, how many rows); the rows are then read a
batch at a time from one query and written out as they come, so a large export is never held in
memory whole, in a read-only transaction that on SQLite leaves the write lock to the workers.
Message bodies are left out unless asked for. A cell that a spreadsheet would read as a formula
(it begins with =, +, -, @, a tab or a carriage return) is written with a leading single quote.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    case,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased

from scheduler.domain.states import UPCOMING, AppointmentStatus, ReminderStatus
from scheduler.domain.timeutil import to_utc, zone
from scheduler.errors import InvalidInput
from scheduler.services.audit import audit
from scheduler.services.base import Service
from scheduler.store.models import Appointment, Message, Patient, Reminder, Reply
from scheduler.store.uow import UnitOfWork, reading

log = logging.getLogger("scheduler.services")
BATCH = 500
PATIENT_COLUMNS = (
    "id",
    "external_id",
    "name",
    "status",
    "protocol",
    "timezone",
    "language",
    "next_session",
    "next_session_confirmed",
    "sessions_attended",
    "sessions_missed",
    "texts_sent",
    "texts_failed",
)
MESSAGE_COLUMNS = ("at", "direction", "patient_id", "external_id", "kind", "status", "error_code")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: object) -> str:
    """A cell as text that no spreadsheet runs as a formula."""
    value = "" if cell is None else str(cell)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def parse_day(value: str, name: str) -> date:
    """A date written YYYY-MM-DD; InvalidInput naming `name` otherwise."""
    problem = InvalidInput(
        f"the {name} date must be a real date written YYYY-MM-DD, like 2026-03-01", field=name
    )
    if len(value.strip()) != 10:  # fromisoformat also reads 20260301 and week dates
        raise problem
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise problem from None


@dataclass(frozen=True)
class Period:
    """The clinic's days from `first` to `last`, both included (open-ended where None)."""

    first: date | None = None
    last: date | None = None

    @classmethod
    def parse(cls, first: str | None, last: str | None) -> Period:
        period = cls(
            parse_day(first, "from") if first else None,
            parse_day(last, "to") if last else None,
        )
        if period.first and period.last and period.last < period.first:
            raise InvalidInput("the to date is before the from date", field="to")
        return period

    def bounds(self, clinic_zone: str) -> tuple[datetime | None, datetime | None]:
        """The first instant of `first` and the first instant after `last`, in the clinic's zone."""
        tz = zone(clinic_zone)
        start = None if self.first is None else to_utc(datetime.combine(self.first, time()), tz)
        end = (
            None if self.last is None else to_utc(datetime.combine(self.last + timedelta(days=1), time()), tz)
        )
        return start, end

    def describe(self) -> dict[str, str | None]:
        return {
            "from": None if self.first is None else self.first.isoformat(),
            "to": None if self.last is None else self.last.isoformat(),
        }


@dataclass(frozen=True)
class Export:
    """A CSV export ready to be written: its file name, header, row count and rows (read lazily)."""

    filename: str
    header: tuple[str, ...]
    count: int
    rows: Iterator[list[Any]] = field(repr=False)

    def lines(self) -> Iterator[str]:
        """The CSV text a batch of rows at a time (RFC 4180, CRLF line ends)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.header)
        for n, row in enumerate(self.rows, start=1):
            writer.writerow([neutralised(cell) for cell in row])
            if n % BATCH == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


class Exports(Service):
    def export_patients(self) -> Export:
        """Every patient, by id: status, the next session and whether it is confirmed, sessions
        attended and missed, texts sent (or delivered) and failed."""
        now = self.clock.now()
        with reading(self.database) as db:
            count = db.scalar(select(func.count()).select_from(Patient)) or 0
        self._audit("patients", count, {})
        return Export(f"patients-{self._today()}.csv", PATIENT_COLUMNS, count, self._patient_rows(now))

    def export_messages(self, period: Period, *, bodies: bool = False) -> Export:
        """Texts sent and replies received (with the service's automatic answers) in `period`, the
        clinic's days, oldest first; times in the clinic's zone. Bodies only when `bodies`."""
        start, end = period.bounds(self.settings.clinic_timezone)
        log_query = _message_log(start, end, bodies)
        with reading(self.database) as db:
            count = db.scalar(select(func.count()).select_from(log_query.subquery())) or 0
        self._audit("messages", count, {**period.describe(), "bodies": bodies})
        header = MESSAGE_COLUMNS + (("body",) if bodies else ())
        rows = self._message_rows(start, end, bodies)
        return Export(f"messages-{self._today()}.csv", header, count, rows)

    def _audit(self, what: str, count: int, details: dict[str, Any]) -> None:
        with UnitOfWork(self.database) as uow:
            details = {"what": what, "rows": count, **details}
            audit(uow.db, self.clock.now(), self.actor, "export", None, details=details)
            uow.commit()
        log.info("export of %s by %s: %d rows", what, self.actor, count)

    def _today(self) -> str:
        return self.clock.now().astimezone(zone(self.settings.clinic_timezone)).date().isoformat()

    def _patient_rows(self, now: datetime) -> Iterator[list[Any]]:
        with reading(self.database) as db:
            for row in db.execute(_patients_query(now).execution_options(yield_per=BATCH)):
                (pid, external_id, name, status, protocol, tz, language, next_at, confirmed, attended,
                 missed, sent, failed) = row  # fmt: skip
                when = "" if next_at is None else next_at.astimezone(zone(tz)).isoformat(timespec="minutes")
                answer = "" if next_at is None else ("yes" if confirmed is not None else "no")
                yield [pid, external_id, name, status, protocol, tz, language, when, answer,
                       attended or 0, missed or 0, sent or 0, failed or 0]  # fmt: skip

    def _message_rows(
        self, start: datetime | None, end: datetime | None, bodies: bool
    ) -> Iterator[list[Any]]:
        tz = zone(self.settings.clinic_timezone)
        log_query = _message_log(start, end, bodies).subquery()
        ordered = select(log_query).order_by(log_query.c.at, log_query.c.seq, log_query.c.id)
        with reading(self.database) as db:
            for row in db.execute(ordered.execution_options(yield_per=BATCH)):
                at = row.at.astimezone(tz).isoformat(timespec="seconds")
                cells = [
                    at,
                    row.direction,
                    row.patient_id,
                    row.external_id,
                    row.kind,
                    row.status,
                    row.error_code,
                ]
                yield cells + ([row.body] if bodies else [])


def _patients_query(now: datetime) -> Any:
    outcomes = (
        select(
            Appointment.patient_id,
            func.sum(_one_if(Appointment.status == AppointmentStatus.ATTENDED)).label("attended"),
            func.sum(_one_if(Appointment.status == AppointmentStatus.MISSED)).label("missed"),
        )
        .group_by(Appointment.patient_id)
        .subquery()
    )
    texts = (
        select(
            Reminder.patient_id,
            func.sum(_one_if(Reminder.status.in_((ReminderStatus.SENT, ReminderStatus.DELIVERED)))).label(
                "sent"
            ),
            func.sum(_one_if(Reminder.status == ReminderStatus.FAILED)).label("failed"),
        )
        .group_by(Reminder.patient_id)
        .subquery()
    )
    soonest = (
        select(Appointment.patient_id, func.min(Appointment.starts_at).label("starts_at"))
        .where(Appointment.status.in_(UPCOMING), Appointment.starts_at > now)
        .group_by(Appointment.patient_id)
        .subquery()
    )
    following = aliased(Appointment)
    return (
        select(
            Patient.id,
            Patient.external_id,
            Patient.name,
            Patient.status,
            Patient.protocol,
            Patient.timezone,
            Patient.language,
            soonest.c.starts_at,
            following.confirmed_at,
            outcomes.c.attended,
            outcomes.c.missed,
            texts.c.sent,
            texts.c.failed,
        )
        .outerjoin(outcomes, outcomes.c.patient_id == Patient.id)
        .outerjoin(texts, texts.c.patient_id == Patient.id)
        .outerjoin(soonest, soonest.c.patient_id == Patient.id)
        .outerjoin(
            following,
            (following.patient_id == Patient.id)
            & (following.starts_at == soonest.c.starts_at)
            & following.status.in_(UPCOMING),
        )
        .order_by(Patient.id)
    )


def _one_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _message_log(start: datetime | None, end: datetime | None, bodies: bool) -> Any:
    """Texts (`messages`), replies and automatic answers as one log: at, seq (a reply before its
    answer), id, direction, patient, kind, status, error code and, with `bodies`, the body."""
    text = String()
    texts = (
        select(
            Message.created_at.label("at"),
            literal(0).label("seq"),
            Message.id.label("id"),
            literal("out", text).label("direction"),
            Message.patient_id.label("patient_id"),
            Patient.external_id.label("external_id"),
            func.coalesce(type_coerce(Reminder.kind, text), "text").label("kind"),
            Message.status.label("status"),
            Message.error_code.label("error_code"),
            (Message.body if bodies else null()).label("body"),
        )
        .outerjoin(Patient, Message.patient_id == Patient.id)
        .outerjoin(Reminder, Message.reminder_id == Reminder.id)
    )
    replies = select(
        Reply.received_at,
        literal(1),
        Reply.id,
        literal("in", text),
        Reply.patient_id,
        Patient.external_id,
        literal("reply", text),
        type_coerce(Reply.intent, text),
        null(),
        Reply.body if bodies else null(),
    ).outerjoin(Patient, Reply.patient_id == Patient.id)
    answers = (
        select(
            Reply.received_at,
            literal(2),
            Reply.id,
            literal("out", text),
            Reply.patient_id,
            Patient.external_id,
            literal("automatic answer", text),
            literal("answered", text),
            null(),
            Reply.auto_reply if bodies else null(),
        )
        .outerjoin(Patient, Reply.patient_id == Patient.id)
        .where(Reply.auto_reply.is_not(None))
    )
    return union_all(
        _during(texts, Message.created_at, start, end),
        _during(replies, Reply.received_at, start, end),
        _during(answers, Reply.received_at, start, end),
    )


def _during(
    statement: Any, column: SQLColumnExpression[datetime], start: datetime | None, end: datetime | None
) -> Any:
    if start is not None:
        statement = statement.where(column >= start)
    if end is not None:
        statement = statement.where(column < end)
    return statement
