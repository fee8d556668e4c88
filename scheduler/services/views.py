"""Read models: patients, sessions, texts and messages as plain dicts (the JSON the CLI prints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.domain.timeutil import zone
from scheduler.store.models import Appointment, Message, Patient, Reminder

PATIENT_FILTERS = ("active", "paused", "discharged", "opted-out", "attention")


def instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def patient_summary(patient: Patient) -> dict[str, Any]:
    return {
        "id": patient.id,
        "name": patient.name,
        "phone": patient.phone,
        "timezone": patient.timezone,
        "protocol": patient.protocol,
        "status": patient.status,
        "touch_up_interval_days": patient.touch_up_interval_days,
        "consent": patient.consent_source,
        "opted_out": patient.opted_out_at is not None,
        "phone_invalid": patient.phone_invalid_at is not None,
        "attention": attention(patient),
    }


def attention(patient: Patient) -> str | None:
    """Why staff need to look at this patient, or None."""
    if patient.phone_invalid_at is not None and patient.status != "discharged":
        return "phone-invalid"
    if patient.hold_reason is not None:
        return patient.hold_reason
    return None


def appointment_view(appointment: Appointment, tz_name: str) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "kind": appointment.kind,
        "number": appointment.number,
        "starts_at": instant(appointment.starts_at),
        "local_start": appointment.starts_at.astimezone(zone(tz_name)).isoformat(),
        "status": appointment.status,
    }


def reminder_view(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": reminder.id,
        "appointment_id": reminder.appointment_id,
        "kind": reminder.kind,
        "due_at": instant(reminder.due_at),
        "deadline": instant(reminder.deadline),
        "status": reminder.status,
        "reason": reminder.reason,
        "attempts": reminder.attempts,
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "reminder_id": message.reminder_id,
        "to": message.to,
        "body": message.body,
        "status": message.status,
        "provider_sid": message.provider_sid,
        "error_code": message.error_code,
        "created_at": instant(message.created_at),
    }


def patient_detail(db: Session, patient: Patient, *, with_messages: bool) -> dict[str, Any]:
    reminders = db.scalars(
        select(Reminder).where(Reminder.patient_id == patient.id).order_by(Reminder.due_at, Reminder.id)
    )
    detail: dict[str, Any] = {
        "patient": patient_summary(patient),
        "appointments": [appointment_view(a, patient.timezone) for a in patient.appointments],
        "reminders": [reminder_view(r) for r in reminders],
    }
    if with_messages:
        messages = db.scalars(select(Message).where(Message.patient_id == patient.id).order_by(Message.id))
        detail["messages"] = [message_view(m) for m in messages]
    return detail


def patient_list(db: Session, status: str | None) -> list[dict[str, Any]]:
    query = select(Patient).order_by(Patient.id)
    if status in ("active", "paused", "discharged"):
        query = query.where(Patient.status == status)
    elif status == "opted-out":
        query = query.where(Patient.opted_out_at.is_not(None))
    elif status == "attention":
        query = query.where(
            Patient.status != "discharged",
            Patient.hold_reason.is_not(None) | Patient.phone_invalid_at.is_not(None),
        )
    return [patient_summary(p) for p in db.scalars(query)]
