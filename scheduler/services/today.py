"""The staff's Today list: sessions today and tomorrow, and everything that needs a person.

An item stays on the list until someone marks it handled, and comes back if the same thing
happens again later (another change request, another opt-out).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, and_, cast, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import contains_eager

from scheduler.config import Settings
from scheduler.domain.states import (
    UPCOMING,
    AppointmentStatus,
    HoldReason,
    PatientStatus,
    ReplyIntent,
)
from scheduler.domain.timeutil import to_utc, zone
from scheduler.errors import InvalidInput, NotFound
from scheduler.services.audit import audit
from scheduler.services.base import Service
from scheduler.services.records import of_patient_in_care
from scheduler.services.timeline import session_label
from scheduler.services.week import WeekSession, without_outcome
from scheduler.store.models import Appointment, HandledItem, Patient, Reminder, Reply
from scheduler.store.partial import TROUBLED_TEXT
from scheduler.store.uow import UnitOfWork

# Items shown in each of Today's lists (the newest or the most pressing first): a list that is
# full says so, and items marked handled make room for the rest.
LIST_LIMIT = 50
# Sessions listed on Today; a busier clinic reads the rest on the week's day pages, which page.
SESSIONS_SHOWN = 200
_ITEM = re.compile(r"(reminder|change|reply|phone|optout|missed):([1-9]\d{0,17})")


@dataclass(frozen=True)
class TodaySession:
    appointment_id: int
    patient_id: int
    patient_name: str
    tomorrow: bool  # by the clinic's days
    when: datetime  # in the patient's zone
    label: str
    status: AppointmentStatus
    change_requested: bool


@dataclass(frozen=True)
class Item:
    """One thing on the Today list for a person to deal with."""

    key: str  # what "mark handled" records, e.g. "reminder:12"
    patient_id: int | None  # None for a text from a number that is no patient's
    patient_name: str
    summary: str
    when: datetime  # in the patient's zone
    status: str | None = None
    body: str | None = None
    session_at: datetime | None = None  # the session a change request is about
    phone: str | None = None  # the number a flag is about


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    empty: str
    items: list[Item]
    more: bool = False  # there are more than the LIST_LIMIT shown


def _section(anchor: str, title: str, empty: str, items: list[Item]) -> Section:
    """A list of Today's, from up to LIST_LIMIT + 1 items: the one past the limit says there are more."""
    return Section(anchor, title, empty, items[:LIST_LIMIT], more=len(items) > LIST_LIMIT)


@dataclass(frozen=True)
class Today:
    day: date  # the clinic's
    sessions: list[TodaySession]  # the first SESSIONS_SHOWN of today's and tomorrow's
    sections: list[Section]
    without_outcome: list[WeekSession] = field(default_factory=list)  # over, attended or missed?
    sessions_total: int = 0  # all of today's and tomorrow's; the week's day pages list every one

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)

    @property
    def open_items(self) -> int:
        return sum(len(s.items) for s in self.sections) + len(self.without_outcome)

    @property
    def more_items(self) -> bool:
        """A list holds more than it shows: `open_items` is a floor."""
        return any(s.more for s in self.sections)


class TodayList(Service):
    def today(self) -> Today:
        now = self.clock.now()
        clinic_zone = zone(self.settings.clinic_timezone)
        today = now.astimezone(clinic_zone).date()

        def midnight(days: int) -> datetime:
            return to_utc(datetime.combine(today + timedelta(days=days), datetime.min.time()), clinic_zone)

        tomorrow, end = midnight(1), midnight(2)
        booked = (
            Appointment.starts_at >= midnight(0),
            Appointment.starts_at < end,
            Appointment.status != AppointmentStatus.CANCELLED,
            of_patient_in_care(Appointment.patient_id),
        )
        with UnitOfWork(self.database) as uow:
            db = uow.db
            sessions = [
                TodaySession(
                    appointment_id=a.id,
                    patient_id=a.patient.id,
                    patient_name=a.patient.name,
                    tomorrow=a.starts_at >= tomorrow,
                    when=a.starts_at.astimezone(zone(a.patient.timezone)),
                    label=session_label(a.kind, a.number),
                    status=a.status,
                    change_requested=a.change_requested_at is not None,
                )
                for a in db.scalars(
                    select(Appointment)
                    .join(Patient)
                    .options(contains_eager(Appointment.patient))
                    .where(*booked)
                    .order_by(Appointment.starts_at, Appointment.id)
                    .limit(SESSIONS_SHOWN)
                )
            ]
            total = len(sessions)
            if total == SESSIONS_SHOWN:
                counted = select(func.count()).select_from(Appointment).where(*booked)
                total = db.scalar(counted) or 0
            sections = [
                _section("urgent", "Urgent replies", "No urgent replies.", _urgent(db, self.settings)),
                _section("changes", "Change requests", "No open change requests.", _change_requests(db)),
                _section("missed", "Missed sessions", "No missed sessions to follow up.", _missed(db)),
                _section(
                    "texts", "Texts that failed, expired or are unknown", "Every text is fine.", _troubled(db)
                ),
                _section("phones", "Numbers flagged invalid", "No numbers flagged.", _invalid_phones(db)),
                _section("optouts", "New opt-outs", "No new opt-outs.", _opt_outs(db)),
                _section("replies", "Replies for staff", "No replies waiting.", _replies(db)),
            ]
            unrecorded = without_outcome(db, now)
        return Today(today, sessions, sections, unrecorded, total)

    def mark_handled(self, item: str) -> int | None:
        """Record that the signed-in user dealt with `item`; returns its patient's id (None for a
        reply from a number that is no patient's).

        Marking an item twice is harmless. The item comes back if the same thing happens again
        later (another change request, another opt-out).
        """
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise InvalidInput(f"{item.strip()[:60]!r} is not an item on the Today list", field="item")
        kind, number = match.group(1), int(match.group(2))
        key = f"{kind}:{number}"
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            db = uow.db
            patient_id = _item_patient(db, kind, number, now)
            done = db.scalars(select(HandledItem).where(HandledItem.item == key)).first()
            if done is None:
                db.add(HandledItem(item=key, handled_by=self.actor, handled_at=now))
            else:
                done.handled_by, done.handled_at = self.actor, now
            appointment_id = number if kind in ("change", "missed") else None
            audit(db, now, self.actor, "handled", patient_id, appointment_id, {"item": key})
            # If someone marks it in the same moment, it is handled either way.
            with contextlib.suppress(IntegrityError):
                uow.commit()
        return patient_id


def _open_change_request() -> ColumnElement[bool]:
    """An upcoming session the patient asked to change, not yet handled (of an appointment joined
    to its patient)."""
    return and_(
        _in_care(),
        Appointment.change_requested_at.is_not(None),
        Appointment.status.in_(UPCOMING),
        _open("change", Appointment.id, Appointment.change_requested_at),
    )


def _change_requests(db: DbSession) -> list[Item]:
    rows = db.scalars(
        select(Appointment)
        .join(Patient)
        .options(contains_eager(Appointment.patient))
        .where(_open_change_request())
        .order_by(Appointment.change_requested_at, Appointment.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for a in rows:
        assert a.change_requested_at is not None
        tz = zone(a.patient.timezone)
        items.append(
            Item(
                f"change:{a.id}",
                a.patient.id,
                a.patient.name,
                f"asked to change {session_label(a.kind, a.number).lower()}",
                a.change_requested_at.astimezone(tz),
                session_at=a.starts_at.astimezone(tz),
            )
        )
    return items


def _missed(db: DbSession) -> list[Item]:
    rows = db.scalars(
        select(Appointment)
        .join(Patient)
        .options(contains_eager(Appointment.patient))
        .where(
            _in_care(),
            Appointment.status == AppointmentStatus.MISSED,
            _open("missed", Appointment.id, Appointment.updated_at),
        )
        .order_by(Appointment.starts_at.desc(), Appointment.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for a in rows:
        hold = " (new bookings on hold)" if a.patient.hold_reason == HoldReason.MISSED_SESSION else ""
        items.append(
            Item(
                f"missed:{a.id}",
                a.patient.id,
                a.patient.name,
                f"missed {session_label(a.kind, a.number).lower()}{hold}",
                a.starts_at.astimezone(zone(a.patient.timezone)),
                status=AppointmentStatus.MISSED,
            )
        )
    return items


def _troubled(db: DbSession) -> list[Item]:
    rows = db.execute(
        select(Reminder, Patient)
        .join(Patient, Reminder.patient_id == Patient.id)
        .where(_in_care(), TROUBLED_TEXT, _open("reminder", Reminder.id, Reminder.updated_at))
        .order_by(Reminder.due_at.desc(), Reminder.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for reminder, patient in rows:
        why = [reminder.reason] if reminder.reason else []
        if reminder.error_code is not None:
            why.append(f"code {reminder.error_code}")
        items.append(
            Item(
                f"reminder:{reminder.id}",
                patient.id,
                patient.name,
                f"{reminder.kind} text {reminder.status}" + (f" ({', '.join(why)})" if why else ""),
                reminder.due_at.astimezone(zone(patient.timezone)),
                status=reminder.status,
            )
        )
    return items


def _invalid_phones(db: DbSession) -> list[Item]:
    rows = db.scalars(
        select(Patient)
        .where(
            _in_care(),
            Patient.phone_invalid_at.is_not(None),
            _open("phone", Patient.id, Patient.phone_invalid_at),
        )
        .order_by(Patient.phone_invalid_at.desc(), Patient.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for patient in rows:
        assert patient.phone_invalid_at is not None
        items.append(
            Item(
                f"phone:{patient.id}",
                patient.id,
                patient.name,
                "cannot receive texts; texts are stopped",
                patient.phone_invalid_at.astimezone(zone(patient.timezone)),
                phone=patient.phone,
            )
        )
    return items


def _opt_outs(db: DbSession) -> list[Item]:
    rows = db.scalars(
        select(Patient)
        .where(
            _in_care(), Patient.opted_out_at.is_not(None), _open("optout", Patient.id, Patient.opted_out_at)
        )
        .order_by(Patient.opted_out_at.desc(), Patient.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for patient in rows:
        assert patient.opted_out_at is not None
        items.append(
            Item(
                f"optout:{patient.id}",
                patient.id,
                patient.name,
                "opted out of texts (replied STOP); no more texts until they reply START",
                patient.opted_out_at.astimezone(zone(patient.timezone)),
            )
        )
    return items


def _urgent(db: DbSession, settings: Settings) -> list[Item]:
    """Replies that read as a safety concern, from patients or from numbers that are no one's."""
    rows = db.execute(
        select(Reply, Patient)
        .outerjoin(Patient, Reply.patient_id == Patient.id)
        .where(Reply.urgent.is_(True), Reply.handled_at.is_(None))
        .order_by(Reply.received_at.desc(), Reply.id.desc())
        .limit(LIST_LIMIT + 1)
    )
    alerted = settings.staff_alert_phone or settings.staff_alert_webhook_url
    summary = "reads as a safety concern" + ("; the on-call person was alerted" if alerted else "")
    items = []
    for reply, patient in rows:
        items.append(
            Item(
                f"reply:{reply.id}",
                patient.id if patient else None,
                patient.name if patient else "(a number that is no patient's)",
                summary,
                reply.received_at.astimezone(zone(patient.timezone if patient else settings.clinic_timezone)),
                status="urgent",
                body=reply.body,
                phone=None if patient else reply.from_number,
            )
        )
    return items


def _replies(db: DbSession) -> list[Item]:
    # A change asked for by a patient whose session is on the change requests list is listed there.
    requested = select(Appointment.patient_id).join(Patient).where(_open_change_request())
    rows = db.execute(
        select(Reply, Patient)
        .join(Patient, Reply.patient_id == Patient.id)
        .where(
            Reply.handled_at.is_(None),
            Reply.urgent.is_(False),
            or_(
                Reply.intent == ReplyIntent.OTHER,
                and_(Reply.intent == ReplyIntent.CHANGE, Reply.patient_id.not_in(requested)),
            ),
        )
        .order_by(Reply.received_at, Reply.id)
        .limit(LIST_LIMIT + 1)
    )
    items = []
    for reply, patient in rows:
        summary = (
            "asked for a change (no upcoming session)" if reply.intent == ReplyIntent.CHANGE else "replied"
        )
        items.append(
            Item(
                f"reply:{reply.id}",
                patient.id,
                patient.name,
                summary,
                reply.received_at.astimezone(zone(patient.timezone)),
                body=reply.body,
            )
        )
    return items


def _item_patient(db: DbSession, kind: str, number: int, now: datetime) -> int | None:
    if kind in ("phone", "optout"):
        patient = db.get(Patient, number)
        if patient is None:
            raise NotFound(f"no patient with id {number}")
        return patient.id
    if kind in ("change", "missed"):
        appointment = db.get(Appointment, number)
        if appointment is None:
            raise NotFound(f"no session with id {number}")
        if kind == "change":
            # The patient's "R" replies are what the change request was; they are handled too.
            for change in db.scalars(
                select(Reply).where(
                    Reply.patient_id == appointment.patient_id,
                    Reply.intent == ReplyIntent.CHANGE,
                    Reply.handled_at.is_(None),
                )
            ):
                change.handled_at = now
        return appointment.patient_id
    if kind == "reminder":
        reminder = db.get(Reminder, number)
        if reminder is None:
            raise NotFound(f"no text with id {number}")
        return reminder.patient_id
    reply = db.get(Reply, number)
    if reply is None:
        raise NotFound(f"no reply with id {number}")
    reply.handled_at = reply.handled_at or now
    return reply.patient_id


def _open(prefix: str, ref: SQLColumnExpression[int], since: SQLColumnExpression[Any]) -> ColumnElement[bool]:
    """Still to do: never marked handled, or it happened again after it was (item "prefix:id")."""
    key = literal(f"{prefix}:", String) + cast(ref, String)
    return ~select(HandledItem.id).where(HandledItem.item == key, HandledItem.handled_at >= since).exists()


def _in_care() -> ColumnElement[bool]:
    return Patient.status != PatientStatus.DISCHARGED
