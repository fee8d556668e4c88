"""What the staff pages show, and the few things only they do.

Read models for the Today list, patient search, a patient's course as a timeline and the log of
texts and replies, with every time already written in the patient's local time; marking an item
on the Today list handled; and checking an enrolment form before it is previewed or saved.
Changes to a course go through `Clinic`, so they re-plan exactly as the CLI's do.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import ColumnElement, SQLColumnExpression, String, cast, func, literal, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, selectinload

from scheduler.domain.phones import parse_mobile, readable
from scheduler.domain.timeutil import to_utc, zone
from scheduler.errors import InvalidInput, NotFound
from scheduler.services import views
from scheduler.services.clinic import Clinic, EnrolRequest, parse_local
from scheduler.store.models import (
    Appointment,
    AuditEntry,
    HandledItem,
    Message,
    Patient,
    Reminder,
    Reply,
)
from scheduler.store.status import RANK
from scheduler.store.uow import UnitOfWork

# Reminder statuses a person should look at.
TROUBLED_TEXTS = ("failed", "expired", "unknown")
# Statuses a message (one SMS handed to the provider) can have, for the log's filter.
MESSAGE_STATUSES = tuple(RANK)
REPLY_INTENTS = ("confirm", "change", "stop", "start", "help", "other")
LIST_LIMIT = 200
_ITEM = re.compile(r"(reminder|change|reply|phone|optout|missed):([1-9]\d{0,17})")
_DIGITS_ONLY = re.compile(r"[\d\s().+-]+")


class FormInvalid(InvalidInput):
    """An enrolment form with problems: `problems` maps each field (or "form") to its message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()), field=next(iter(problems), None))
        self.problems = problems


# -- time ------------------------------------------------------------------------------------------


def local_text(instant: datetime | None, tz: ZoneInfo) -> str:
    """An instant as staff read it: "Tue 3 Mar 2026 09:00 EST" in the zone `tz`."""
    if instant is None:
        return "-"
    local = instant.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def local_input(instant: datetime, tz: ZoneInfo) -> str:
    """An instant as a datetime-local input's value in the zone `tz`."""
    return f"{instant.astimezone(tz):%Y-%m-%dT%H:%M}"


def phone_text(e164: str) -> str:
    try:
        return readable(e164)
    except phonenumbers.NumberParseException:
        return e164


def session_label(kind: str, number: int) -> str:
    return f"{'Touch-up' if kind == 'touch-up' else 'Induction'} session {number}"


def _from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# -- view models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TodaySession:
    appointment_id: int
    patient_id: int
    patient_name: str
    day: str  # "Today" or "Tomorrow" (the clinic's days)
    when: str
    label: str
    status: str
    change_requested: bool


@dataclass(frozen=True)
class Item:
    """One thing on the Today list for a person to deal with."""

    key: str  # what "mark handled" records, e.g. "reminder:12"
    patient_id: int
    patient_name: str
    summary: str
    when: str
    status: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    empty: str
    items: list[Item]


@dataclass(frozen=True)
class Today:
    day: str
    sessions: list[TodaySession]
    sections: list[Section]

    @property
    def open_items(self) -> int:
        return sum(len(s.items) for s in self.sections)


@dataclass(frozen=True)
class PatientRow:
    id: int
    name: str
    phone: str
    protocol: str
    status: str
    opted_out: bool
    attention: str | None
    next_session: str


@dataclass(frozen=True)
class TextEntry:
    id: int | None
    kind: str
    due: str
    status: str
    reason: str | None
    delivery: str | None  # the latest message's status (and error code), if one was sent
    attempts: int = 0


@dataclass(frozen=True)
class SessionEntry:
    id: int | None
    label: str
    when: str
    when_input: str
    status: str
    status_reason: str | None
    confirmed: bool
    change_requested: bool
    can_reschedule: bool
    can_cancel: bool
    can_record_outcome: bool
    texts: list[TextEntry]


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    when: str
    direction: str  # "out" (a text to the patient) or "in" (a reply)
    patient_id: int | None
    patient_name: str
    kind: str
    status: str
    body: str
    error_code: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    when: str
    actor: str
    action: str
    session: str | None


@dataclass(frozen=True)
class PatientPage:
    id: int
    name: str
    phone: str
    timezone: str
    zone_now: str
    protocol: str
    protocol_name: str
    status: str
    interval_days: int | None
    interval_range: tuple[int, int] | None
    consent: str
    opted_out: bool
    phone_invalid: bool
    hold_reason: str | None
    welcome: list[TextEntry]
    sessions: list[SessionEntry]
    log: list[LogEntry]
    history: list[HistoryEntry]

    @property
    def can_pause(self) -> bool:
        return self.status == "active"

    @property
    def can_resume(self) -> bool:
        return self.status == "paused" or (self.status == "active" and self.hold_reason is not None)

    @property
    def can_discharge(self) -> bool:
        return self.status in ("active", "paused")


@dataclass(frozen=True)
class EnrolPreview:
    name: str
    phone: str
    timezone: str
    protocol: str
    protocol_name: str
    interval_days: int | None
    consent: str
    welcome: list[TextEntry]
    sessions: list[SessionEntry] = field(default_factory=list)


# -- the service -----------------------------------------------------------------------------------


class StaffDesk:
    """The staff pages' reads and small actions, as the signed-in user (`clinic.actor`)."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.settings = clinic.settings
        self.sessions = clinic.sessions
        self.clock = clinic.clock

    # -- Today -------------------------------------------------------------------------------------

    def today(self) -> Today:
        now = self.clock.now()
        clinic_zone = zone(self.settings.clinic_timezone)
        today = now.astimezone(clinic_zone).date()
        start = to_utc(datetime.combine(today, datetime.min.time()), clinic_zone)
        tomorrow = to_utc(datetime.combine(today + timedelta(days=1), datetime.min.time()), clinic_zone)
        end = to_utc(datetime.combine(today + timedelta(days=2), datetime.min.time()), clinic_zone)
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            sessions = [
                TodaySession(
                    appointment_id=a.id,
                    patient_id=a.patient.id,
                    patient_name=a.patient.name,
                    day="Today" if a.starts_at < tomorrow else "Tomorrow",
                    when=local_text(a.starts_at, zone(a.patient.timezone)),
                    label=session_label(a.kind, a.number),
                    status=a.status,
                    change_requested=a.change_requested_at is not None,
                )
                for a in db.scalars(
                    select(Appointment)
                    .join(Patient)
                    .options(contains_eager(Appointment.patient))
                    .where(
                        Appointment.starts_at >= start,
                        Appointment.starts_at < end,
                        Appointment.status != "cancelled",
                        Patient.status != "discharged",
                    )
                    .order_by(Appointment.starts_at, Appointment.id)
                )
            ]
            changes = self._change_requests(db)
            changed_patients = {item.patient_id for item in changes}
            sections = [
                Section("changes", "Change requests", "No open change requests.", changes),
                Section("missed", "Missed sessions", "No missed sessions to follow up.", self._missed(db)),
                Section(
                    "texts",
                    "Texts that failed, expired or are unknown",
                    "Every text is fine.",
                    self._troubled_texts(db),
                ),
                Section(
                    "phones",
                    "Numbers flagged invalid",
                    "No numbers flagged.",
                    self._invalid_phones(db),
                ),
                Section("optouts", "New opt-outs", "No new opt-outs.", self._opt_outs(db)),
                Section(
                    "replies", "Replies for staff", "No replies waiting.", self._replies(db, changed_patients)
                ),
            ]
        return Today(f"{today:%A} {today.day} {today:%B %Y}", sessions, sections)

    def _change_requests(self, db: Session) -> list[Item]:
        rows = db.scalars(
            select(Appointment)
            .join(Patient)
            .options(contains_eager(Appointment.patient))
            .where(_in_care())
            .where(
                Appointment.change_requested_at.is_not(None),
                Appointment.status.in_(("scheduled", "confirmed")),
                _open("change", Appointment.id, Appointment.change_requested_at),
            )
            .order_by(Appointment.change_requested_at, Appointment.id)
            .limit(LIST_LIMIT)
        )
        items = []
        for a in rows:
            assert a.change_requested_at is not None
            key = f"change:{a.id}"
            tz = zone(a.patient.timezone)
            items.append(
                Item(
                    key,
                    a.patient.id,
                    a.patient.name,
                    f"asked to change {session_label(a.kind, a.number).lower()} "
                    f"({local_text(a.starts_at, tz)})",
                    local_text(a.change_requested_at, tz),
                )
            )
        return items

    def _missed(self, db: Session) -> list[Item]:
        rows = db.scalars(
            select(Appointment)
            .join(Patient)
            .options(contains_eager(Appointment.patient))
            .where(_in_care())
            .where(Appointment.status == "missed", _open("missed", Appointment.id, Appointment.updated_at))
            .order_by(Appointment.starts_at.desc(), Appointment.id)
            .limit(LIST_LIMIT)
        )
        items = []
        for a in rows:
            key = f"missed:{a.id}"
            tz = zone(a.patient.timezone)
            hold = " (new bookings on hold)" if a.patient.hold_reason == "missed-session" else ""
            items.append(
                Item(
                    key,
                    a.patient.id,
                    a.patient.name,
                    f"missed {session_label(a.kind, a.number).lower()}{hold}",
                    local_text(a.starts_at, tz),
                    status="missed",
                )
            )
        return items

    def _troubled_texts(self, db: Session) -> list[Item]:
        rows = db.execute(
            select(Reminder, Patient)
            .join(Patient, Reminder.patient_id == Patient.id)
            .where(_in_care())
            .where(Reminder.status.in_(TROUBLED_TEXTS), _open("reminder", Reminder.id, Reminder.updated_at))
            .order_by(Reminder.due_at.desc(), Reminder.id)
            .limit(LIST_LIMIT)
        )
        items = []
        for reminder, patient in rows:
            key = f"reminder:{reminder.id}"
            why = [reminder.reason] if reminder.reason else []
            if reminder.error_code is not None:
                why.append(f"code {reminder.error_code}")
            items.append(
                Item(
                    key,
                    patient.id,
                    patient.name,
                    f"{reminder.kind} text {reminder.status}" + (f" ({', '.join(why)})" if why else ""),
                    local_text(reminder.due_at, zone(patient.timezone)),
                    status=reminder.status,
                )
            )
        return items

    def _invalid_phones(self, db: Session) -> list[Item]:
        rows = db.scalars(
            select(Patient)
            .where(_in_care())
            .where(
                Patient.phone_invalid_at.is_not(None), _open("phone", Patient.id, Patient.phone_invalid_at)
            )
            .order_by(Patient.id)
        )
        items = []
        for patient in rows:
            assert patient.phone_invalid_at is not None
            key = f"phone:{patient.id}"
            items.append(
                Item(
                    key,
                    patient.id,
                    patient.name,
                    f"{phone_text(patient.phone)} cannot receive texts; texts are stopped",
                    local_text(patient.phone_invalid_at, zone(patient.timezone)),
                )
            )
        return items

    def _opt_outs(self, db: Session) -> list[Item]:
        rows = db.scalars(
            select(Patient)
            .where(_in_care())
            .where(Patient.opted_out_at.is_not(None), _open("optout", Patient.id, Patient.opted_out_at))
            .order_by(Patient.id)
        )
        items = []
        for patient in rows:
            assert patient.opted_out_at is not None
            key = f"optout:{patient.id}"
            items.append(
                Item(
                    key,
                    patient.id,
                    patient.name,
                    "opted out of texts (replied STOP); no more texts until they reply START",
                    local_text(patient.opted_out_at, zone(patient.timezone)),
                )
            )
        return items

    def _replies(self, db: Session, changed_patients: set[int]) -> list[Item]:
        rows = db.execute(
            select(Reply, Patient)
            .join(Patient, Reply.patient_id == Patient.id)
            .where(Reply.handled_at.is_(None), Reply.intent.in_(("other", "change")))
            .order_by(Reply.received_at, Reply.id)
            .limit(LIST_LIMIT)
        )
        items = []
        for reply, patient in rows:
            if reply.intent == "change" and patient.id in changed_patients:
                continue  # listed as a change request already
            summary = "asked for a change (no upcoming session)" if reply.intent == "change" else "replied"
            items.append(
                Item(
                    f"reply:{reply.id}",
                    patient.id,
                    patient.name,
                    summary,
                    local_text(reply.received_at, zone(patient.timezone)),
                    body=reply.body,
                )
            )
        return items

    def mark_handled(self, item: str) -> int:
        """Record that the signed-in user dealt with `item`; returns its patient's id.

        Marking an item twice is harmless. The item comes back if the same thing happens again
        later (another change request, another opt-out).
        """
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise InvalidInput(f"{item.strip()[:60]!r} is not an item on the Today list", field="item")
        kind, number = match.group(1), int(match.group(2))
        key = f"{kind}:{number}"
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            patient_id = self._item_patient(db, kind, number, now)
            done = db.scalars(select(HandledItem).where(HandledItem.item == key)).first()
            if done is None:
                db.add(HandledItem(item=key, handled_by=self.clinic.actor, handled_at=now))
            else:
                done.handled_by, done.handled_at = self.clinic.actor, now
            db.add(
                AuditEntry(
                    at=now,
                    actor=self.clinic.actor,
                    action="handled",
                    patient_id=patient_id,
                    appointment_id=number if kind in ("change", "missed") else None,
                    details={"item": key},
                )
            )
            # If someone marks it in the same moment, it is handled either way.
            with contextlib.suppress(IntegrityError):
                uow.commit()
        return patient_id

    def _item_patient(self, db: Session, kind: str, number: int, now: datetime) -> int:
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
                        Reply.intent == "change",
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
        if reply is None or reply.patient_id is None:
            raise NotFound(f"no reply with id {number}")
        reply.handled_at = reply.handled_at or now
        return reply.patient_id

    # -- patients ----------------------------------------------------------------------------------

    def find_patients(self, query: str = "", status: str | None = None) -> list[PatientRow]:
        """Patients whose name contains `query`, or whose number ends in it when it is digits."""
        if status is not None and status not in views.PATIENT_FILTERS:
            raise InvalidInput(f"status must be one of {', '.join(views.PATIENT_FILTERS)}", field="status")
        now = self.clock.now()
        statement = (
            select(Patient)
            .options(selectinload(Patient.appointments))
            .where(_matching(query), _with_status(status))
        )
        with UnitOfWork(self.sessions) as uow:
            rows = []
            for patient in uow.session.scalars(
                statement.order_by(Patient.name, Patient.id).limit(LIST_LIMIT)
            ):
                upcoming = [
                    a.starts_at
                    for a in patient.appointments
                    if a.status in ("scheduled", "confirmed") and a.starts_at > now
                ]
                rows.append(
                    PatientRow(
                        id=patient.id,
                        name=patient.name,
                        phone=phone_text(patient.phone),
                        protocol=patient.protocol,
                        status=patient.status,
                        opted_out=patient.opted_out_at is not None,
                        attention=views.attention(patient),
                        next_session=local_text(min(upcoming, default=None), zone(patient.timezone)),
                    )
                )
            return rows

    def patient_page(self, patient_id: int) -> PatientPage:
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            patient = db.get(Patient, patient_id)
            if patient is None:
                raise NotFound(f"no patient with id {patient_id}")
            tz = zone(patient.timezone)
            detail = views.patient_detail(db, patient, with_messages=True)
            delivery = _latest_delivery(detail["messages"])
            texts: dict[int | None, list[TextEntry]] = {}
            for r in detail["reminders"]:
                texts.setdefault(r["appointment_id"], []).append(_text_entry(r, tz, delivery.get(r["id"])))
            in_care = patient.status != "discharged"
            sessions = []
            for a in patient.appointments:
                starts_at = a.starts_at
                upcoming = a.status in ("scheduled", "confirmed")
                sessions.append(
                    SessionEntry(
                        id=a.id,
                        label=session_label(a.kind, a.number),
                        when=local_text(starts_at, tz),
                        when_input=local_input(starts_at, tz),
                        status=a.status,
                        status_reason=a.status_reason,
                        confirmed=a.confirmed_at is not None,
                        change_requested=a.change_requested_at is not None,
                        can_reschedule=in_care and (upcoming or a.status == "missed"),
                        can_cancel=upcoming,
                        can_record_outcome=in_care and a.status != "cancelled" and starts_at <= now,
                        texts=texts.get(a.id, []),
                    )
                )
            protocol = self.clinic.protocols.get(patient.protocol)
            history = db.scalars(
                select(AuditEntry)
                .where(AuditEntry.patient_id == patient.id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(30)
            )
            labels = {a.id: session_label(a.kind, a.number) for a in patient.appointments}
            return PatientPage(
                id=patient.id,
                name=patient.name,
                phone=phone_text(patient.phone),
                timezone=patient.timezone,
                zone_now=local_text(now, tz),
                protocol=patient.protocol,
                protocol_name=protocol.name if protocol else patient.protocol,
                status=patient.status,
                interval_days=patient.touch_up_interval_days,
                interval_range=(
                    (protocol.touch_up_min_days, protocol.touch_up_max_days)
                    if protocol is not None and protocol.touch_up_days is not None
                    else None
                ),
                consent=patient.consent_source,
                opted_out=patient.opted_out_at is not None,
                phone_invalid=patient.phone_invalid_at is not None,
                hold_reason=patient.hold_reason,
                welcome=texts.get(None, []),
                sessions=sessions,
                log=_log(db, [patient.id], None, None, None),
                history=[
                    HistoryEntry(
                        local_text(e.at, tz),
                        e.actor,
                        e.action,
                        labels.get(e.appointment_id) if e.appointment_id else None,
                    )
                    for e in history
                ],
            )

    def appointment_patient(self, appointment_id: int) -> int:
        """The id of the patient a session belongs to; NotFound if there is no such session."""
        with UnitOfWork(self.sessions) as uow:
            patient_id = uow.session.scalar(
                select(Appointment.patient_id).where(Appointment.id == appointment_id)
            )
        if patient_id is None:
            raise NotFound(f"no session with id {appointment_id}")
        return patient_id

    # -- messages ----------------------------------------------------------------------------------

    def message_log(self, show: str = "all", status: str = "", query: str = "") -> list[LogEntry]:
        """Texts sent and replies received, newest first: `show` is all, texts or replies;
        `status` a message status or a reply intent; `query` a name or the number's last digits."""
        if show not in ("all", "texts", "replies"):
            raise InvalidInput("show must be all, texts or replies", field="show")
        if status and status not in MESSAGE_STATUSES + REPLY_INTENTS:
            raise InvalidInput(f"unknown status {status[:30]!r}", field="status")
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            patient_ids = (
                list(db.scalars(select(Patient.id).where(_matching(query)))) if query.strip() else None
            )
            return _log(db, patient_ids, show, status or None, LIST_LIMIT)

    # -- enrolment ---------------------------------------------------------------------------------

    def preview_enrolment(self, request: EnrolRequest) -> EnrolPreview:
        """The sessions and texts enrolling `request` would plan; nothing is written. A problem
        `enrol` would refuse raises FormInvalid, naming its field."""
        try:
            planned = self.clinic.preview(request)
        except InvalidInput as exc:
            raise FormInvalid({exc.field or "form": str(exc)}) from None
        p = planned["patient"]
        tz = zone(p["timezone"])
        texts: dict[int | None, list[TextEntry]] = {}
        for r in planned["reminders"]:
            texts.setdefault(r["appointment_ref"], []).append(_text_entry(r, tz, None))
        sessions = []
        for a in planned["appointments"]:
            starts_at = datetime.fromisoformat(a["starts_at"])
            sessions.append(
                SessionEntry(
                    id=None,
                    label=session_label(a["kind"], a["number"]),
                    when=local_text(starts_at, tz),
                    when_input=local_input(starts_at, tz),
                    status=a["status"],
                    status_reason=None,
                    confirmed=False,
                    change_requested=False,
                    can_reschedule=False,
                    can_cancel=False,
                    can_record_outcome=False,
                    texts=texts.get(a["ref"], []),
                )
            )
        protocol = self.clinic.protocols[p["protocol"]]
        return EnrolPreview(
            name=p["name"],
            phone=phone_text(p["phone"]),
            timezone=p["timezone"],
            protocol=protocol.id,
            protocol_name=protocol.name,
            interval_days=p["touch_up_interval_days"],
            consent=p["consent"],
            welcome=texts.get(None, []),
            sessions=sessions,
        )

    def read_enrolment(self, form: Mapping[str, str]) -> EnrolRequest:
        """The enrolment an enrol form asks for. Each field is checked on its own first, so
        FormInvalid can name every problem at once; `Clinic` checks the whole again."""
        problems: dict[str, str] = {}

        def check(name: str, test: Callable[[], object]) -> None:
            try:
                test()
            except InvalidInput as exc:
                problems.setdefault(exc.field or name, str(exc))

        def text(name: str) -> str:
            return form.get(name, "")

        if not text("name").strip():
            problems["name"] = "name is required"
        check("phone", lambda: parse_mobile(text("phone"), self.settings.default_phone_region))
        check("timezone", lambda: zone(text("timezone").strip()))
        check("protocol", lambda: self.clinic.protocol(text("protocol").strip()))
        check("first", lambda: parse_local(text("first"), "first"))
        if not text("consent").strip():
            problems["consent"] = "consent source is required (how the patient agreed to texts)"
        interval = text("interval").strip()
        if interval and not (interval.isascii() and interval.isdigit()):
            problems["interval"] = "the touch-up interval must be a whole number of days"
        if problems:
            raise FormInvalid(problems)
        return EnrolRequest(
            name=text("name"),
            phone=text("phone"),
            timezone=text("timezone"),
            protocol=text("protocol"),
            first=text("first"),
            consent=text("consent"),
            interval_days=int(interval) if interval else None,
        )


# -- helpers ---------------------------------------------------------------------------------------


def _open(prefix: str, ref: SQLColumnExpression[int], since: SQLColumnExpression[Any]) -> ColumnElement[bool]:
    """Still to do: never marked handled, or it happened again after it was (item "prefix:id")."""
    key = literal(f"{prefix}:", String) + cast(ref, String)
    return ~select(HandledItem.id).where(HandledItem.item == key, HandledItem.handled_at >= since).exists()


def _in_care() -> ColumnElement[bool]:
    return Patient.status != "discharged"


def _matching(query: str) -> ColumnElement[bool]:
    """Patients whose name contains `query`, or whose number ends in its digits."""
    text = query.strip()[:100]
    if not text:
        return true()
    digits = re.sub(r"\D", "", text)
    if _DIGITS_ONLY.fullmatch(text) and digits:
        return Patient.phone.endswith(digits)
    return func.lower(Patient.name).contains(text.lower(), autoescape=True)


def _with_status(status: str | None) -> ColumnElement[bool]:
    """The `reminders patients --status` filter (as views.patient_list reads it)."""
    if status in ("active", "paused", "discharged"):
        return Patient.status == status
    if status == "opted-out":
        return Patient.opted_out_at.is_not(None)
    if status == "attention":
        return _in_care() & (Patient.hold_reason.is_not(None) | Patient.phone_invalid_at.is_not(None))
    return true()


def _latest_delivery(messages: Iterable[dict[str, Any]]) -> dict[int, str]:
    latest: dict[int, dict[str, Any]] = {}
    for m in messages:
        reminder_id = m["reminder_id"]
        if reminder_id is not None and (reminder_id not in latest or m["id"] > latest[reminder_id]["id"]):
            latest[reminder_id] = m
    return {
        reminder_id: m["status"] + (f" (error {m['error_code']})" if m["error_code"] else "")
        for reminder_id, m in latest.items()
    }


def _text_entry(reminder: dict[str, Any], tz: ZoneInfo, delivery: str | None) -> TextEntry:
    return TextEntry(
        id=reminder.get("id"),
        kind=reminder["kind"],
        due=local_text(_from_iso(reminder["due_at"]), tz),
        status=reminder["status"],
        reason=reminder["reason"],
        delivery=delivery,
        attempts=reminder.get("attempts", 0),
    )


def _log(
    db: Session, patient_ids: list[int] | None, show: str | None, status: str | None, limit: int | None
) -> list[LogEntry]:
    entries: list[LogEntry] = []
    if patient_ids is not None and not patient_ids:
        return entries
    if show != "replies" and (status is None or status in MESSAGE_STATUSES):
        texts = (
            select(Message, Patient, Reminder.kind)
            .outerjoin(Patient, Message.patient_id == Patient.id)
            .outerjoin(Reminder, Message.reminder_id == Reminder.id)
            .order_by(Message.created_at.desc(), Message.id.desc())
        )
        if patient_ids is not None:
            texts = texts.where(Message.patient_id.in_(patient_ids))
        if status is not None:
            texts = texts.where(Message.status == status)
        for message, patient, kind in db.execute(texts.limit(limit)):
            tz = zone(patient.timezone if patient else "UTC")
            entries.append(
                LogEntry(
                    at=message.created_at,
                    when=local_text(message.created_at, tz),
                    direction="out",
                    patient_id=patient.id if patient else None,
                    patient_name=patient.name if patient else "(no patient)",
                    kind=f"{kind} text" if kind else "text",
                    status=message.status,
                    body=message.body,
                    error_code=message.error_code,
                )
            )
    if show != "texts" and (status is None or status in REPLY_INTENTS):
        replies = (
            select(Reply, Patient)
            .outerjoin(Patient, Reply.patient_id == Patient.id)
            .order_by(Reply.received_at.desc(), Reply.id.desc())
        )
        if patient_ids is not None:
            replies = replies.where(Reply.patient_id.in_(patient_ids))
        if status is not None:
            replies = replies.where(Reply.intent == status)
        for reply, patient in db.execute(replies.limit(limit)):
            tz = zone(patient.timezone if patient else "UTC")
            entries.append(
                LogEntry(
                    at=reply.received_at,
                    when=local_text(reply.received_at, tz),
                    direction="in",
                    patient_id=patient.id if patient else None,
                    patient_name=patient.name if patient else "(unknown number)",
                    kind="reply",
                    status=reply.intent,
                    body=reply.body,
                )
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit] if limit is not None else entries
