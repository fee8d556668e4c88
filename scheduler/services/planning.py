"""Keeping a patient's stored reminders equal to the plan, and their next touch-up booked.

Both run inside the caller's transaction, so a change and its re-plan commit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.config import Settings
from scheduler.domain import course, plan
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.store.models import Appointment, Patient, Reminder

# Appointment states whose texts belong in the plan (attended ones keep their check-in).
PLANNED_STATES = ("scheduled", "confirmed", "attended")
UPCOMING_STATES = ("scheduled", "confirmed")
# A text cancelled for one of these reasons comes back when the reason goes away.
REVIVABLE = ("paused", "opted-out", "session-missed", "phone-invalid")


def textable(patient: Patient) -> bool:
    return patient.status == "active" and patient.opted_out_at is None and patient.phone_invalid_at is None


def replan(db: Session, patient: Patient, settings: Settings, now: datetime, reason: str) -> None:
    """Make the patient's stored reminders match the plan for their current appointments.

    New texts are inserted; pending or skipped ones move or change to match; pending ones no
    longer in the plan are cancelled with `reason`. Texts already handed to the provider are
    never touched.
    """
    tz = zone(patient.timezone)
    wanted: dict[str, plan.PlannedReminder] = {}
    if textable(patient):
        planned = plan.plan_reminders(_sessions(patient), tz, settings.send_window, settings.daily_text_limit)
        wanted = {p.key: p for p in planned}
    existing = {r.plan_key: r for r in db.scalars(select(Reminder).where(Reminder.patient_id == patient.id))}
    for key, p in wanted.items():
        row = existing.get(key)
        if row is None:
            db.add(
                Reminder(
                    patient_id=patient.id,
                    appointment_id=p.appointment_id,
                    plan_key=key,
                    kind=p.kind.value,
                    due_at=p.due_at,
                    deadline=p.deadline,
                    status=p.status,
                    reason=p.reason,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif _may_follow_plan(row, p, now):
            _update(row, p.due_at, p.deadline, p.status, p.reason, now)
    for key, row in existing.items():
        if row.kind == plan.Kind.WELCOME:
            _replan_welcome(row, patient, settings, now, reason)
        elif key not in wanted and row.status in ("pending", "skipped"):
            _update(row, row.due_at, row.deadline, "cancelled", reason, now)
    db.flush()


def new_patient_reminders(patient: Patient, settings: Settings, now: datetime) -> list[dict[str, object]]:
    """The rows of a patient just booked (sessions flushed): the welcome and every planned text.

    Plain rows for one bulk insert: an import of thousands of patients plans them all at once.
    """
    tz = zone(patient.timezone)
    welcome = plan.plan_welcome(now, tz, settings.send_window)
    planned = [
        welcome,
        *plan.plan_reminders(_sessions(patient), tz, settings.send_window, settings.daily_text_limit),
    ]
    return [
        {
            "patient_id": patient.id,
            "appointment_id": p.appointment_id,
            "plan_key": p.key,
            "kind": p.kind.value,
            "due_at": p.due_at,
            "deadline": p.deadline,
            "status": p.status,
            "reason": p.reason,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for p in planned
    ]


def _sessions(patient: Patient) -> list[plan.Session]:
    return [
        plan.Session(
            appointment_id=a.id,
            revision=a.revision,
            kind="touch-up" if a.kind == "touch-up" else "induction",
            number=a.number,
            starts_at=a.starts_at,
            booked_at=a.booked_at,
            confirmed=a.confirmed_at is not None,
        )
        for a in patient.appointments
        if a.status in PLANNED_STATES
    ]


def _replan_welcome(row: Reminder, patient: Patient, settings: Settings, now: datetime, reason: str) -> None:
    """The welcome is planned once, at enrolment: paused with the patient, back on resume.

    After an opt-out it stays cancelled: Twilio confirms START itself, and the patient knows us.
    """
    if not textable(patient):
        if row.status == "pending":
            _update(row, row.due_at, row.deadline, "cancelled", reason, now)
    elif row.status == "cancelled" and row.reason == "paused":
        welcome = plan.plan_welcome(now, zone(patient.timezone), settings.send_window)
        _update(row, max(row.due_at, welcome.due_at), row.deadline, "pending", None, now)


def _may_follow_plan(row: Reminder, p: plan.PlannedReminder, now: datetime) -> bool:
    if row.status == "pending":
        return True
    still_useful = p.due_at > now or (p.deadline is not None and p.deadline > now)
    if row.status == "skipped":
        return p.due_at > now or p.status == "skipped"
    return row.status == "cancelled" and row.reason in REVIVABLE and still_useful


def _update(
    row: Reminder,
    due_at: datetime,
    deadline: datetime | None,
    status: str,
    reason: str | None,
    now: datetime,
) -> None:
    if (row.due_at, row.deadline, row.status, row.reason) != (due_at, deadline, status, reason):
        row.due_at, row.deadline, row.status, row.reason = due_at, deadline, status, reason
        row.updated_at = now


def ensure_next_touch_up(
    db: Session, patient: Patient, settings: Settings, now: datetime, *, flush: bool = True
) -> Appointment | None:
    """Book the patient's next touch-up if they are in care and none is upcoming.

    Returns the new appointment, or None when nothing was needed or allowed.
    """
    if patient.status != "active" or patient.hold_reason is not None:
        return None
    if upcoming_touch_ups(patient, now):
        return None
    starts_at = next_touch_up_start(patient, settings, now)
    if starts_at is None:
        return None
    number = 1 + max((a.number for a in patient.appointments if a.kind == "touch-up"), default=0)
    appointment = Appointment(
        patient_id=patient.id,
        kind="touch-up",
        number=number,
        starts_at=starts_at,
        status="scheduled",
        revision=0,
        booked_at=now,
        created_at=now,
        updated_at=now,
    )
    patient.appointments.append(appointment)
    if flush:
        db.flush()
    return appointment


def upcoming_touch_ups(patient: Patient, now: datetime) -> list[Appointment]:
    return [
        a
        for a in patient.appointments
        if a.kind == "touch-up" and a.status in UPCOMING_STATES and a.starts_at > now
    ]


def next_touch_up_start(
    patient: Patient, settings: Settings, now: datetime, *, ignore: Appointment | None = None
) -> datetime | None:
    """When the next touch-up falls: one interval after the latest session, on an open day,
    at the first session's time of day, and never earlier than tomorrow.

    A cancelled touch-up counts as a session here, so cancelling the upcoming one moves the
    course on instead of booking the same day again. `ignore` leaves one appointment out (the
    touch-up being moved by an interval change).
    """
    interval = patient.touch_up_interval_days
    appointments = [a for a in patient.appointments if a is not ignore]
    anchors = [
        a
        for a in appointments
        if a.status in PLANNED_STATES or (a.kind == "touch-up" and a.status == "cancelled")
    ]
    if interval is None or not anchors:
        return None
    tz = zone(patient.timezone)
    anchor = max(anchors, key=lambda a: a.starts_at)
    first = min(patient.appointments, key=lambda a: a.starts_at)
    session = course.next_touch_up(
        to_local(anchor.starts_at, tz).date(),
        interval,
        to_local(first.starts_at, tz).time(),
        0,
        settings.clinic_closed_days,
        not_before=to_local(now, tz).date() + timedelta(days=1),
    )
    return to_utc(session.local_start, tz)
