"""A patient's course as staff read it: sessions with their texts, and the log of texts and replies.

Times are aware datetimes already in the patient's zone; the pages format them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain.states import (
    AppointmentReason,
    AppointmentStatus,
    MessageStatus,
    ReminderKind,
    ReminderStatus,
    ReplyIntent,
    SessionKind,
)
from scheduler.domain.timeutil import zone
from scheduler.services.results import MessageView, ReminderView
from scheduler.store.models import Message, Patient, Reminder, Reply

MESSAGE_STATUSES = tuple(MessageStatus)
REPLY_INTENTS = tuple(ReplyIntent)
LOG_SHOWS = ("all", "texts", "replies")


def session_label(kind: SessionKind, number: int) -> str:
    return f"{'Touch-up' if kind == SessionKind.TOUCH_UP else 'Induction'} session {number}"


@dataclass(frozen=True)
class TextEntry:
    id: int | None
    kind: ReminderKind
    due: datetime
    status: ReminderStatus
    reason: str | None
    delivery: str | None  # the latest message's status (and error code), if one was sent
    attempts: int = 0


@dataclass(frozen=True)
class SessionEntry:
    id: int | None
    label: str
    when: datetime
    status: AppointmentStatus
    status_reason: AppointmentReason | None
    confirmed: bool
    change_requested: bool
    can_reschedule: bool
    can_cancel: bool
    can_record_outcome: bool
    texts: list[TextEntry]
    can_restore: bool = False


@dataclass(frozen=True)
class LogEntry:
    at: datetime  # in the patient's zone (UTC for a number that is no patient's)
    direction: str  # "out" (a text to the patient) or "in" (a reply)
    patient_id: int | None
    patient_name: str
    kind: str
    status: str
    body: str
    error_code: int | None = None
    answer_to: int | None = None  # the reply an automatic answer went back to


def texts_by_session(
    reminders: Iterable[ReminderView], tz: ZoneInfo, messages: Sequence[MessageView] = ()
) -> dict[int | None, list[TextEntry]]:
    """Each session's texts (the welcome under None), with the latest delivery status of each."""
    latest: dict[int, MessageView] = {}
    for m in messages:
        if m.reminder_id is not None and (m.reminder_id not in latest or m.id > latest[m.reminder_id].id):
            latest[m.reminder_id] = m
    texts: dict[int | None, list[TextEntry]] = {}
    for r in reminders:
        sent = latest.get(r.id)
        delivery = (
            None if sent is None else sent.status + (f" (error {sent.error_code})" if sent.error_code else "")
        )
        entry = TextEntry(r.id, r.kind, r.due_at.astimezone(tz), r.status, r.reason, delivery, r.attempts)
        texts.setdefault(r.appointment_id, []).append(entry)
    return texts


def message_log(
    db: DbSession,
    patients: ColumnElement[bool] | None,
    show: str | None,
    status: str | None,
    limit: int | None,
) -> list[LogEntry]:
    """Texts sent and replies received, newest first, of the patients `patients` picks (everyone's
    for None). The database reads the log newest first and keeps the chosen patients' entries, so
    a search that matches thousands of patients costs no more than the page it shows."""
    entries: list[LogEntry] = []
    chosen = None if patients is None else select(Patient.id).where(patients)
    if show != "replies" and (status is None or status in MESSAGE_STATUSES):
        texts = (
            select(Message, Patient, Reminder.kind)
            .outerjoin(Patient, Message.patient_id == Patient.id)
            .outerjoin(Reminder, Message.reminder_id == Reminder.id)
            .order_by(Message.created_at.desc(), Message.id.desc())
        )
        if chosen is not None:
            texts = texts.where(Message.patient_id.in_(chosen))
        if status is not None:
            texts = texts.where(Message.status == status)
        for message, patient, kind in db.execute(texts.limit(limit)):
            entries.append(
                LogEntry(
                    at=message.created_at.astimezone(zone(patient.timezone if patient else "UTC")),
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
        if chosen is not None:
            replies = replies.where(Reply.patient_id.in_(chosen))
        if status is not None:
            replies = replies.where(Reply.intent == status)
        for reply, patient in db.execute(replies.limit(limit)):
            at = reply.received_at.astimezone(zone(patient.timezone if patient else "UTC"))
            who = (patient.id if patient else None, patient.name if patient else "(unknown number)")
            entries.append(LogEntry(at, "in", *who, kind="reply", status=reply.intent, body=reply.body))
            if reply.auto_reply and show != "replies":
                # The service's own answer, sent back in the same exchange (no delivery report).
                answer = LogEntry(
                    at, "out", *who, "automatic answer", "answered", reply.auto_reply, None, reply.id
                )
                entries.append(answer)
    # Newest first; an automatic answer above the reply it answered.
    entries.sort(key=lambda e: (e.at, e.answer_to is not None), reverse=True)
    return entries[:limit] if limit is not None else entries
