"""Changes to a course: move, cancel or record a session; pause, resume or discharge a patient;
a new number or touch-up interval. Each is one transaction with its re-plan and audit entry."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain.enrolment import check_start
from scheduler.domain.oddities import Booked, course_warnings, time_warnings
from scheduler.domain.phones import parse_mobile
from scheduler.domain.states import (
    PLANNED,
    UPCOMING,
    AppointmentReason,
    AppointmentStatus,
    HoldReason,
    NoticeKind,
    PatientStatus,
    Reason,
    SessionKind,
)
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.errors import Conflict, InvalidInput
from scheduler.services.audit import audit
from scheduler.services.base import Service, get_appointment, get_patient, require_in_care
from scheduler.services.enrolment import check_number_free
from scheduler.services.events import EventType, record_event
from scheduler.services.planning import ensure_next_touch_up, next_touch_up_start, upcoming_touch_ups
from scheduler.services.results import PatientDetail
from scheduler.store.models import Appointment, Patient
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.course")


class CourseChanges(Service):
    # -- a session -----------------------------------------------------------------------------

    def reschedule(self, appointment_id: int, when: str) -> PatientDetail:
        now = self.clock.now()
        warnings: list[str] = []

        def work(db: DbSession) -> int:
            appointment = get_appointment(db, appointment_id)
            patient = appointment.patient
            require_in_care(patient)
            if appointment.status not in (*UPCOMING, AppointmentStatus.MISSED):
                raise InvalidInput(f"a session that is {appointment.status} cannot be rescheduled")
            tz = zone(patient.timezone)
            local = check_start(when, tz, now, "when", "the new time")
            starts_at = to_utc(local, tz)
            check_day_free(patient, local, tz, appointment)
            before = appointment.starts_at
            was_missed = appointment.status == AppointmentStatus.MISSED
            others = [
                Booked(a.kind, a.number, a.starts_at)
                for a in patient.appointments
                if a.id != appointment.id and a.status in PLANNED
            ]
            warnings.extend(time_warnings(local, tz, self.settings.clinic_closed_days))
            warnings.extend(
                course_warnings(Booked(appointment.kind, appointment.number, starts_at), others, tz)
            )
            move(appointment, starts_at, now)
            if was_missed and patient.hold_reason == HoldReason.MISSED_SESSION:
                patient.hold_reason = None
            self.planner.replan(db, patient, now, Reason.RESCHEDULED)
            details = {"from": before.isoformat(), "to": starts_at.isoformat()}
            audit(db, now, self.actor, "reschedule", patient.id, appointment.id, details)
            return patient.id

        return self.detail(self.transaction(work), warnings)

    def cancel(self, appointment_id: int) -> PatientDetail:
        now = self.clock.now()

        def work(db: DbSession) -> int:
            appointment = get_appointment(db, appointment_id)
            patient = appointment.patient
            if appointment.status not in UPCOMING:
                raise InvalidInput(f"a session that is {appointment.status} cannot be cancelled")
            appointment.status = AppointmentStatus.CANCELLED
            appointment.status_reason = AppointmentReason.CANCELLED_BY_STAFF
            appointment.notice, appointment.notice_at = NoticeKind.CANCELLED, now
            appointment.updated_at = now
            ensure_next_touch_up(db, patient, self.settings, now)
            self.planner.replan(db, patient, now, Reason.APPOINTMENT_CANCELLED)
            audit(db, now, self.actor, "cancel", patient.id, appointment.id)
            return patient.id

        return self.detail(self.transaction(work))

    def outcome(self, appointment_id: int, outcome: str) -> PatientDetail:
        if outcome not in (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED):
            raise InvalidInput("outcome must be 'attended' or 'missed'", field="outcome")
        result = AppointmentStatus(outcome)
        now = self.clock.now()

        def work(db: DbSession) -> int:
            appointment = get_appointment(db, appointment_id)
            patient = appointment.patient
            if appointment.status == AppointmentStatus.CANCELLED:
                raise InvalidInput("a cancelled session has no outcome")
            if appointment.starts_at > now:
                raise InvalidInput("that session has not started yet")
            missed_now = result == AppointmentStatus.MISSED and appointment.status != result
            appointment.status = result
            appointment.status_reason = None
            appointment.updated_at = now
            if missed_now:
                missed = EventType.APPOINTMENT_MISSED
                record_event(db, self.settings, missed, patient, now, appointment=appointment)
            if result == AppointmentStatus.MISSED:
                # Staff decide what happens next; nothing more is booked automatically.
                patient.hold_reason = HoldReason.MISSED_SESSION
                patient.updated_at = now
                reason = Reason.SESSION_MISSED
            else:
                if patient.hold_reason == HoldReason.MISSED_SESSION and not any(
                    a.status == AppointmentStatus.MISSED for a in patient.appointments
                ):
                    patient.hold_reason = None
                ensure_next_touch_up(db, patient, self.settings, now)
                reason = Reason.SESSION_ATTENDED
            self.planner.replan(db, patient, now, reason)
            audit(db, now, self.actor, f"outcome-{result}", patient.id, appointment.id)
            return patient.id

        return self.detail(self.transaction(work))

    # -- a patient -----------------------------------------------------------------------------

    def pause(self, patient_id: int) -> PatientDetail:
        return self._set_status(patient_id, "pause", PatientStatus.PAUSED, {PatientStatus.ACTIVE})

    def resume(self, patient_id: int) -> PatientDetail:
        return self._set_status(
            patient_id, "resume", PatientStatus.ACTIVE, {PatientStatus.ACTIVE, PatientStatus.PAUSED}
        )

    def discharge(self, patient_id: int) -> PatientDetail:
        return self._set_status(
            patient_id, "discharge", PatientStatus.DISCHARGED, {PatientStatus.ACTIVE, PatientStatus.PAUSED}
        )

    def _set_status(
        self, patient_id: int, action: str, status: PatientStatus, allowed_from: Collection[PatientStatus]
    ) -> PatientDetail:
        now = self.clock.now()
        reasons = {
            PatientStatus.PAUSED: Reason.PAUSED,
            PatientStatus.ACTIVE: Reason.RESUMED,
            PatientStatus.DISCHARGED: Reason.DISCHARGED,
        }

        def work(db: DbSession) -> int:
            patient = get_patient(db, patient_id)
            if patient.status not in allowed_from:
                raise InvalidInput(f"cannot {action} a patient who is {patient.status}")
            if action == "resume" and patient.status == PatientStatus.ACTIVE and patient.hold_reason is None:
                # Nothing to resume: answered as pausing twice is, not as a change.
                raise InvalidInput("cannot resume a patient who is active and not on hold")
            patient.status = status
            patient.updated_at = now
            if status == PatientStatus.DISCHARGED:
                for appointment in patient.appointments:
                    if appointment.status in UPCOMING and appointment.starts_at > now:
                        appointment.status = AppointmentStatus.CANCELLED
                        appointment.status_reason = AppointmentReason.DISCHARGED
                        appointment.updated_at = now
            if action == "resume":
                # Resuming is the staff action that lifts a hold after a missed session; a
                # touch-up booked then is news to the patient.
                was_on_hold = patient.hold_reason is not None
                patient.hold_reason = None
                ensure_next_touch_up(db, patient, self.settings, now, announce=was_on_hold)
            self.planner.replan(db, patient, now, reasons[status])
            audit(db, now, self.actor, action, patient.id)
            return patient.id

        return self.detail(self.transaction(work))

    def change_phone(self, patient_id: int, phone: str) -> PatientDetail:
        """Give the patient a new number; a number flagged invalid is cleared and texts resume."""
        now = self.clock.now()
        number = parse_mobile(phone, self.settings.default_phone_region)

        def work(db: DbSession) -> int:
            patient = get_patient(db, patient_id)
            require_in_care(patient)
            if number != patient.phone:
                check_number_free(db, number)
            patient.phone = number
            patient.phone_invalid_at = None
            patient.updated_at = now
            self.planner.replan(db, patient, now, Reason.REPLANNED)
            audit(db, now, self.actor, "change-phone", patient.id)
            return patient.id

        return self.detail(self.transaction(work, phone=number))

    def set_interval(self, patient_id: int, days: int) -> PatientDetail:
        """Change the touch-up interval; only the upcoming touch-up moves."""
        now = self.clock.now()

        def work(db: DbSession) -> int:
            patient = get_patient(db, patient_id)
            require_in_care(patient)
            problem = self.protocol(patient.protocol).interval_problem(days)
            if problem:
                raise InvalidInput(problem, field="days")
            before = patient.touch_up_interval_days
            patient.touch_up_interval_days = days
            patient.updated_at = now
            for appointment in upcoming_touch_ups(patient, now):
                starts_at = next_touch_up_start(patient, self.settings, now, ignore=appointment)
                if starts_at is not None and starts_at != appointment.starts_at:
                    move(appointment, starts_at, now)
            ensure_next_touch_up(db, patient, self.settings, now)
            self.planner.replan(db, patient, now, Reason.INTERVAL_CHANGED)
            audit(db, now, self.actor, "interval", patient.id, details={"from": before, "to": days})
            return patient.id

        return self.detail(self.transaction(work))

    # -- housekeeping --------------------------------------------------------------------------

    def extend_plans(self) -> int:
        """Book the next touch-up for every active patient who has none upcoming (idempotent).

        Returns how many touch-ups were booked. Each patient is its own transaction, so one
        patient's problem does not hold up the rest.
        """
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            upcoming = (
                select(Appointment.id)
                .where(
                    Appointment.patient_id == Patient.id,
                    Appointment.kind == SessionKind.TOUCH_UP,
                    Appointment.status.in_(UPCOMING),
                    Appointment.starts_at > now,
                )
                .exists()
            )
            # Only patients who have no upcoming touch-up: one query, however many are in care.
            ids = list(
                uow.db.scalars(
                    select(Patient.id).where(
                        Patient.status == PatientStatus.ACTIVE,
                        Patient.hold_reason.is_(None),
                        Patient.touch_up_interval_days.is_not(None),
                        ~upcoming,
                    )
                )
            )
        booked = 0
        for patient_id in ids:

            def work(db: DbSession, patient_id: int = patient_id) -> bool:
                patient = get_patient(db, patient_id)
                appointment = ensure_next_touch_up(db, patient, self.settings, now)
                if appointment is None:
                    return False
                self.planner.replan(db, patient, now, Reason.REPLANNED)
                audit(db, now, self.actor, "book-touch-up", patient.id, appointment.id)
                return True

            try:
                booked += self.transaction(work)
            except Exception:
                # One patient's problem must not stop the others' touch-ups being booked.
                log.exception("could not book the next touch-up for patient %s", patient_id)
        return booked


def check_day_free(
    patient: Patient, local: datetime, tz: ZoneInfo, moving: Appointment | None = None
) -> None:
    """A patient has at most one session a day: Conflict if another is booked on `local`'s day."""
    for other in patient.appointments:
        if (
            other is not moving
            and other.status in PLANNED
            and to_local(other.starts_at, tz).date() == local.date()
        ):
            raise Conflict(f"the patient already has a session on {local.date()}", field="when")


def move(appointment: Appointment, starts_at: datetime, now: datetime) -> None:
    """Book the session at a new time: a new revision, so it gets a fresh set of texts, and a
    notice telling the patient the new time."""
    appointment.starts_at = starts_at
    appointment.status = AppointmentStatus.SCHEDULED
    appointment.status_reason = None
    appointment.revision += 1
    appointment.booked_at = now
    appointment.confirmed_at = None
    appointment.change_requested_at = None
    appointment.notice, appointment.notice_at = NoticeKind.MOVED, now
    appointment.updated_at = now
