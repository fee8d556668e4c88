"""Keeping a patient's stored reminders equal to the plan, and their next touch-up booked.

Both run inside the caller's transaction, so a change and its re-plan commit together.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from operator import itemgetter
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from scheduler.config import Settings
from scheduler.domain import course, plan
from scheduler.domain.protocols import Protocol
from scheduler.domain.states import (
    PLANNED,
    REVIVABLE,
    UPCOMING,
    AppointmentStatus,
    Language,
    NoticeKind,
    PatientStatus,
    Reason,
    ReminderKind,
    ReminderStatus,
    SessionKind,
)
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.store.models import Appointment, Patient, Reminder

_OPEN = (ReminderStatus.PENDING, ReminderStatus.SKIPPED)


class ReminderRow(TypedDict):
    """A reminder as plain values, for one bulk insert of many patients' plans."""

    patient_id: int
    appointment_id: int | None
    plan_key: str
    kind: ReminderKind
    due_at: datetime
    deadline: datetime | None
    status: ReminderStatus
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


def textable(patient: Patient) -> bool:
    return (
        patient.status == PatientStatus.ACTIVE
        and patient.opted_out_at is None
        and patient.phone_invalid_at is None
    )


@dataclass(frozen=True)
class Planner:
    """Plans a patient's texts from their sessions, with the clinic's settings and protocols."""

    settings: Settings
    protocols: Mapping[str, Protocol]

    def context(self, patient: Patient) -> plan.PlanContext:
        protocol = self.protocols.get(patient.protocol)
        return plan.PlanContext(
            tz=zone(patient.timezone),
            window=self.settings.send_window,
            daily_limit=self.settings.daily_text_limit,
            voice=self.settings.voice,
            family=protocol.family if protocol else "iv",
            language=patient.language,
        )

    def replan(self, db: DbSession, patient: Patient, now: datetime, reason: Reason) -> None:
        """Make the patient's stored reminders match the plan for their current appointments.

        New texts are inserted; pending or skipped ones move or change to match; pending ones no
        longer in the plan are cancelled with `reason`. Texts already handed to the provider are
        never touched.
        """
        wanted: dict[str, plan.PlannedReminder] = {}
        if textable(patient):
            planned = plan.plan_reminders(planned_sessions(patient), self.context(patient))
            wanted = {p.key: p for p in planned.reminders}
        existing = {
            r.plan_key: r for r in db.scalars(select(Reminder).where(Reminder.patient_id == patient.id))
        }
        for key, p in wanted.items():
            row = existing.get(key)
            if row is None:
                db.add(Reminder(**_row(patient, p, now)))
            elif _may_follow_plan(row, p, now):
                _update(row, p.due_at, p.deadline, p.status, p.reason, now)
        for key, row in existing.items():
            if row.kind == ReminderKind.WELCOME:
                _replan_welcome(row, patient, self.settings, now, reason)
            elif key not in wanted and row.status in _OPEN:
                _update(row, row.due_at, row.deadline, ReminderStatus.CANCELLED, reason, now)
        db.flush()

    def new_patient_reminders(
        self, patient: Patient, now: datetime, sessions: list[plan.Session] | None = None
    ) -> list[ReminderRow]:
        """The rows of a patient just booked (sessions flushed): the welcome and every planned text.
        `sessions`: the patient's sessions when they were inserted without the ORM."""
        ctx = self.context(patient)
        welcome = plan.plan_welcome(now, ctx.tz, ctx.window)
        planned = plan.plan_reminders(planned_sessions(patient) if sessions is None else sessions, ctx)
        return [_row(patient, p, now) for p in (welcome, *planned.reminders)]


class SharedPlans:
    """The texts of many patients booked at one moment (an import). Patients whose courses are
    alike (zone, protocol, language and every session's time) share one planning, each given
    their own ids: the plan uses appointment ids only to name sessions, and the one place their
    digits count, the order of plan keys due at the same moment, is restored by sorting again.
    So every patient's rows are exactly what `Planner.new_patient_reminders` gives them."""

    def __init__(self, planner: Planner, now: datetime) -> None:
        self.planner = planner
        self.now = now
        # Each shared row with the stand-in id of its session (1, 2, ...; None for the welcome)
        # and the change its key announces.
        self._plans: dict[Hashable, list[tuple[ReminderRow, int | None, NoticeKind | None]]] = {}

    def reminders(
        self, patient_id: int, timezone: str, protocol: str, language: Language, sessions: list[plan.Session]
    ) -> list[ReminderRow]:
        key = (timezone, protocol, language, tuple(_shape(s) for s in sessions))
        shared = self._plans.get(key)
        if shared is None:
            named = [replace(s, appointment_id=n) for n, s in enumerate(sessions, 1)]
            patient = Patient(id=0, timezone=timezone, protocol=protocol, language=language)
            rows = self.planner.new_patient_reminders(patient, self.now, named)
            shared = [(row, row["appointment_id"], plan.notice_of(row["plan_key"])) for row in rows]
            self._plans[key] = shared
        own: list[ReminderRow] = []
        for row, stand_in, notice in shared:
            mine = row.copy()
            mine["patient_id"] = patient_id
            if stand_in is not None:
                session = sessions[stand_in - 1]
                mine["appointment_id"] = session.appointment_id
                mine["plan_key"] = plan.reminder_key(
                    session.appointment_id, session.revision, row["kind"], notice
                )
            own.append(mine)
        welcome, *course = own
        return [welcome, *sorted(course, key=_DUE_AND_KEY)]


_DUE_AND_KEY = itemgetter("due_at", "plan_key")


def _shape(s: plan.Session) -> tuple[object, ...]:
    """All the planner reads of a session but its id."""
    return (s.revision, s.kind, s.number, s.starts_at, s.booked_at, s.confirmed, s.cancelled, s.notice)


def planned_sessions(patient: Patient) -> list[plan.Session]:
    """The patient's sessions as the planner sees them: those whose texts belong in the plan, and
    cancelled ones whose cancellation the patient is to be told of."""
    return [
        plan.Session(
            appointment_id=a.id,
            revision=a.revision,
            kind=a.kind,
            number=a.number,
            starts_at=a.starts_at,
            booked_at=a.booked_at,
            confirmed=a.confirmed_at is not None,
            cancelled=a.status == AppointmentStatus.CANCELLED,
            notice=None if a.notice is None or a.notice_at is None else plan.Notice(a.notice, a.notice_at),
        )
        for a in patient.appointments
        if a.status in PLANNED
        or (a.status == AppointmentStatus.CANCELLED and a.notice == NoticeKind.CANCELLED)
    ]


def _row(patient: Patient, p: plan.PlannedReminder, now: datetime) -> ReminderRow:
    return ReminderRow(
        patient_id=patient.id,
        appointment_id=p.appointment_id,
        plan_key=p.key,
        kind=p.kind,
        due_at=p.due_at,
        deadline=p.deadline,
        status=p.status,
        reason=p.reason,
        attempts=0,
        created_at=now,
        updated_at=now,
    )


def _replan_welcome(
    row: Reminder, patient: Patient, settings: Settings, now: datetime, reason: Reason
) -> None:
    """The welcome is planned once, at enrolment: paused with the patient, back on resume.

    After an opt-out it stays cancelled: Twilio confirms START itself, and the patient knows us.
    """
    if not textable(patient):
        if row.status == ReminderStatus.PENDING:
            _update(row, row.due_at, row.deadline, ReminderStatus.CANCELLED, reason, now)
    elif row.status == ReminderStatus.CANCELLED and row.reason == Reason.PAUSED:
        welcome = plan.plan_welcome(now, zone(patient.timezone), settings.send_window)
        _update(row, max(row.due_at, welcome.due_at), row.deadline, ReminderStatus.PENDING, None, now)


def _may_follow_plan(row: Reminder, p: plan.PlannedReminder, now: datetime) -> bool:
    if row.status == ReminderStatus.PENDING:
        return True
    still_useful = p.due_at > now or (p.deadline is not None and p.deadline > now)
    if row.status == ReminderStatus.SKIPPED:
        return p.due_at > now or p.status == ReminderStatus.SKIPPED
    return row.status == ReminderStatus.CANCELLED and row.reason in REVIVABLE and still_useful


def _update(
    row: Reminder,
    due_at: datetime,
    deadline: datetime | None,
    status: ReminderStatus,
    reason: str | None,
    now: datetime,
) -> None:
    if (row.due_at, row.deadline, row.status, row.reason) != (due_at, deadline, status, reason):
        row.due_at, row.deadline, row.status, row.reason = due_at, deadline, status, reason
        row.updated_at = now


def ensure_next_touch_up(
    db: DbSession,
    patient: Patient,
    settings: Settings,
    now: datetime,
    *,
    flush: bool = True,
    announce: bool = False,
) -> Appointment | None:
    """Book the patient's next touch-up if they are in care and none is upcoming; with
    `announce`, the patient is told of it (staff booked it, outside the usual course).

    Returns the new appointment, or None when nothing was needed or allowed.
    """
    if patient.status != PatientStatus.ACTIVE or patient.hold_reason is not None:
        return None
    if upcoming_touch_ups(patient, now):
        return None
    starts_at = next_touch_up_start(patient, settings, now)
    if starts_at is None:
        return None
    number = 1 + max((a.number for a in patient.appointments if a.kind == SessionKind.TOUCH_UP), default=0)
    appointment = Appointment(
        patient_id=patient.id,
        kind=SessionKind.TOUCH_UP,
        number=number,
        starts_at=starts_at,
        status=AppointmentStatus.SCHEDULED,
        revision=0,
        booked_at=now,
        notice=NoticeKind.ADDED if announce else None,
        notice_at=now if announce else None,
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
        if a.kind == SessionKind.TOUCH_UP and a.status in UPCOMING and a.starts_at > now
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
        if a.status in PLANNED or (a.kind == SessionKind.TOUCH_UP and a.status == AppointmentStatus.CANCELLED)
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
