"""What the clinic's operations answer: a patient, their sessions, texts and messages, typed.

These hold real datetimes and enums. They are turned into JSON once, at the edges, by
`scheduler.serialize`: the CLI's `--json` and the API print the same shapes. Instants are ISO 8601
in UTC (`...+00:00`); `local_start` carries the patient's offset.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from scheduler.domain.states import (
    AppointmentStatus,
    Attention,
    Language,
    MessageStatus,
    PatientStatus,
    ReminderKind,
    ReminderStatus,
    ReplyIntent,
    SessionKind,
)
from scheduler.domain.timeutil import zone

if TYPE_CHECKING:  # the database is imported only where a record is read (`reminders preview` reads none)
    from sqlalchemy.orm import Session as DbSession

    from scheduler.store.models import Appointment, Message, Patient, Reminder, Reply

# An aware instant, written as `datetime.isoformat()` writes it (`+00:00`, never `Z`).
Instant = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class PatientView(Result):
    id: int
    name: str
    phone: str = Field(description="E.164", examples=["+12015550123"])
    timezone: str = Field(examples=["America/New_York"])
    protocol: str = Field(examples=["iv-6x-mwf"])
    status: PatientStatus
    touch_up_interval_days: int | None = Field(description="null for a protocol without touch-ups.")
    consent: str = Field(description="How the patient agreed to texts.")
    opted_out: bool = Field(description="The patient replied STOP; no texts go out.")
    phone_invalid: bool = Field(description="The carrier reported that the number cannot take texts.")
    attention: Attention | None = Field(description="Why staff need to act, or null.")
    language: Language = Field(description="The language of the patient's texts.")
    external_id: str | None = Field(description="The clinic's record number (from its EHR), or null.")
    created_at: Instant = Field(description="When the patient was enrolled, in UTC.")
    updated_at: Instant = Field(description="When the patient's own record last changed, in UTC.")

    @classmethod
    def of(cls, patient: Patient) -> PatientView:
        return cls(
            id=patient.id,
            name=patient.name,
            phone=patient.phone,
            timezone=patient.timezone,
            protocol=patient.protocol,
            status=patient.status,
            touch_up_interval_days=patient.touch_up_interval_days,
            consent=patient.consent_source,
            opted_out=patient.opted_out_at is not None,
            phone_invalid=patient.phone_invalid_at is not None,
            language=patient.language,
            external_id=patient.external_id,
            attention=patient.attention,
            created_at=patient.created_at,
            updated_at=patient.updated_at,
        )


class AppointmentView(Result):
    id: int
    kind: SessionKind
    number: int = Field(description="1, 2, ... within its kind")
    starts_at: Instant = Field(description="The start, in UTC.", examples=["2026-03-09T14:00:00+00:00"])
    local_start: Instant = Field(
        description="The start in the patient's time zone, with its offset.",
        examples=["2026-03-09T10:00:00-04:00"],
    )
    status: AppointmentStatus
    confirmed_at: Instant | None = Field(description="When the patient confirmed (C), or null.")
    change_requested_at: Instant | None = Field(
        description="When the patient last asked to change it (R), or null."
    )
    created_at: Instant = Field(description="When the session was booked, in UTC.")
    updated_at: Instant = Field(description="When the session last changed (time, status), in UTC.")

    @classmethod
    def of(cls, appointment: Appointment, tz_name: str) -> AppointmentView:
        return cls(
            id=appointment.id,
            kind=appointment.kind,
            number=appointment.number,
            starts_at=appointment.starts_at,
            local_start=appointment.starts_at.astimezone(zone(tz_name)),
            status=appointment.status,
            confirmed_at=appointment.confirmed_at,
            change_requested_at=appointment.change_requested_at,
            created_at=appointment.created_at,
            updated_at=appointment.updated_at,
        )


class ReminderView(Result):
    id: int
    appointment_id: int | None = Field(description="null for texts about no one session (the welcome).")
    kind: ReminderKind
    due_at: Instant = Field(description="When it is planned to go out, in UTC.")
    deadline: Instant | None = Field(description="After this it is too late to send, in UTC; or null.")
    status: ReminderStatus
    reason: str | None = Field(description="Why it was cancelled, skipped, expired or failed, or null.")
    attempts: int
    message_id: int | None = Field(
        description="The message that carried it (texts of one day share one), or null until sent."
    )

    @classmethod
    def of(cls, reminder: Reminder) -> ReminderView:
        return cls(
            id=reminder.id,
            appointment_id=reminder.appointment_id,
            kind=reminder.kind,
            due_at=reminder.due_at,
            deadline=reminder.deadline,
            status=reminder.status,
            reason=reminder.reason,
            attempts=reminder.attempts,
            message_id=reminder.message_id,
        )


class MessageView(Result):
    id: int
    reminder_id: int | None
    to: str = Field(description="E.164")
    body: str
    status: MessageStatus = Field(description="The provider's delivery status: `sent`, `delivered`, ...")
    provider_sid: str | None
    error_code: int | None = Field(description="The provider's error code, or null.")
    created_at: Instant = Field(description="When it was handed to the provider, in UTC.")
    updated_at: Instant = Field(description="When its delivery status last changed, in UTC.")

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            id=message.id,
            reminder_id=message.reminder_id,
            to=message.to,
            body=message.body,
            status=MessageStatus(message.status),
            provider_sid=message.provider_sid,
            error_code=message.error_code,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )


class ReplyView(Result):
    """A text the patient sent, what it was read as, and what the service answered."""

    id: int
    received_at: Instant = Field(description="When it arrived, in UTC.")
    intent: ReplyIntent = Field(description="`confirm` (C), `change` (R), `stop`, `start`, `help`, `other`.")
    urgent: bool = Field(description="It reads as a safety concern; the on-call person was alerted.")
    handled_at: Instant | None = Field(description="When staff marked it handled, or null.")
    text: str = Field(description="The patient's words.")
    auto_reply: str | None = Field(description="What the service answered at once, or null.")

    @classmethod
    def of(cls, reply: Reply) -> ReplyView:
        return cls(
            id=reply.id,
            received_at=reply.received_at,
            intent=reply.intent,
            urgent=reply.urgent,
            handled_at=reply.handled_at,
            text=reply.body,
            auto_reply=reply.auto_reply,
        )


class PatientCourse(Result):
    patient: PatientView
    appointments: list[AppointmentView]
    reminders: list[ReminderView]


class PatientDetail(PatientCourse):
    """A patient with every session and planned text, as every change answers (what `enrol --json`
    prints), and what was odd about a time staff gave."""

    warnings: list[str] = Field(
        default_factory=list,
        description="Times accepted that are worth a second look: one that does not exist or happens "
        "twice in the patient's zone, a closed day, a session less than a day from another, or out "
        "of the course's order.",
        examples=[["2027-03-14 02:30 does not exist in America/New_York (the clocks go forward that night)"]],
    )


class PatientRecord(PatientCourse):
    """A patient with sessions, planned texts and the messages sent (what `show --json` prints)."""

    messages: list[MessageView]


class WeekFigures(Result):
    """One week of `services.reports`, as `reminders report --json` and the API give it."""

    week_start: date = Field(description="The week's Monday, in the clinic's time zone.")
    attended: int = Field(description="Sessions that started this week and were attended.")
    missed: int = Field(description="Sessions that started this week and were missed.")
    confirm_requests: int = Field(description="Sessions this week whose patient was sent a confirm request.")
    confirmed: int = Field(description="Of those, the sessions the patient confirmed.")
    confirmation_rate: float | None = Field(
        description="confirmed / confirm_requests, from 0 to 1; null for a week without requests."
    )
    opt_outs: int = Field(description="Patients who opted out of texts this week.")
    texts_failed: int = Field(description="Texts due this week that failed.")
    texts_expired: int = Field(description="Texts due this week that expired unsent or undelivered.")


class WeeklyReport(Result):
    timezone: str = Field(description="The clinic's time zone, in which weeks begin on Monday at 00:00.")
    weeks: list[WeekFigures] = Field(description="Oldest first; the last is the week holding `until`.")


def patient_detail(db: DbSession, patient: Patient, warnings: list[str] | None = None) -> PatientDetail:
    return PatientDetail(
        patient=PatientView.of(patient),
        appointments=[AppointmentView.of(a, patient.timezone) for a in patient.appointments],
        reminders=[ReminderView.of(r) for r in _reminders(db, patient.id)],
        warnings=warnings or [],
    )


def patient_record(db: DbSession, patient: Patient) -> PatientRecord:
    from sqlalchemy import select

    from scheduler.store.models import Message

    messages = db.scalars(select(Message).where(Message.patient_id == patient.id).order_by(Message.id))
    return PatientRecord(
        patient=PatientView.of(patient),
        appointments=[AppointmentView.of(a, patient.timezone) for a in patient.appointments],
        reminders=[ReminderView.of(r) for r in _reminders(db, patient.id)],
        messages=[MessageView.of(m) for m in messages],
    )


def _reminders(db: DbSession, patient_id: int) -> list[Reminder]:
    from sqlalchemy import select

    from scheduler.store.models import Reminder

    return list(
        db.scalars(
            select(Reminder).where(Reminder.patient_id == patient_id).order_by(Reminder.due_at, Reminder.id)
        )
    )
