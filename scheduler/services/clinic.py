"""The clinic's operations on patients and sessions, each one transaction with its re-plan."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain import course, plan
from scheduler.domain.phones import parse_mobile
from scheduler.domain.plan import plan_welcome
from scheduler.domain.protocols import Protocol
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.services import views
from scheduler.services.planning import (
    ensure_next_touch_up,
    new_patient_reminders,
    next_touch_up_start,
    replan,
    upcoming_touch_ups,
)
from scheduler.store.models import Appointment, AuditEntry, Patient, Reminder
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.clinic")
T = TypeVar("T")

CSV_COLUMNS = ("name", "phone", "timezone", "protocol", "first", "consent")
MAX_NAME = 100
MAX_CONSENT = 200
LOCAL_TIME_FORMAT = "YYYY-MM-DD HH:MM"
_LOCAL_TIME = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class EnrolRequest:
    name: str
    phone: str
    timezone: str
    protocol: str
    first: str  # wall-clock time in the patient's zone, YYYY-MM-DD HH:MM
    consent: str
    interval_days: int | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    patient_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Valid:
    name: str
    phone: str
    timezone: str
    protocol: Protocol
    first_local: datetime
    consent: str
    interval_days: int | None


class Clinic:
    """Every operation staff can take; `actor` is recorded in the audit log."""

    def __init__(
        self,
        settings: Settings,
        protocols: dict[str, Protocol],
        sessions: sessionmaker[Session],
        clock: Clock,
        actor: str,
    ) -> None:
        self.settings = settings
        self.protocols = protocols
        self.sessions = sessions
        self.clock = clock
        self.actor = actor

    # -- enrolment -----------------------------------------------------------------------------

    def enrol(self, request: EnrolRequest) -> dict[str, Any]:
        now = self.clock.now()
        valid = self._validate(request, now)

        def work(db: Session) -> int:
            self._check_number_free(db, valid.phone)
            return self._enrol(db, valid, now).id

        patient_id = self._transaction(work)
        return self.show(patient_id, with_messages=False)

    def import_csv(self, text: str, *, dry_run: bool = False) -> ImportReport:
        """Validate every row; write all of them in one transaction, or none."""
        now = self.clock.now()
        report = ImportReport()
        valid_rows: list[tuple[int, _Valid]] = []
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            report.errors.append(RowError(1, f"missing column(s): {', '.join(missing)}"))
            return report
        reader.fieldnames = header
        seen: dict[str, int] = {}
        try:
            for row in reader:
                report.rows += 1
                # The line a row ends on: exact for one-line rows, and blank lines are counted.
                line = reader.line_num
                try:
                    if None in row or any(row.get(c) is None for c in CSV_COLUMNS):
                        raise InvalidInput(f"expected {len(header)} columns")
                    request = EnrolRequest(
                        name=row["name"],
                        phone=row["phone"],
                        timezone=row["timezone"],
                        protocol=row["protocol"],
                        first=row["first"],
                        consent=row["consent"],
                    )
                    valid = self._validate(request, now)
                    if valid.phone in seen:
                        raise InvalidInput(f"same phone number as line {seen[valid.phone]}")
                    seen[valid.phone] = line
                    valid_rows.append((line, valid))
                except InvalidInput as exc:
                    report.errors.append(RowError(line, str(exc)))
        except csv.Error as exc:
            report.errors.append(RowError(reader.line_num, f"unreadable CSV: {exc}"))
        if report.rows == 0 and not report.errors:
            report.errors.append(RowError(1, "no rows to import"))

        def work(db: Session) -> list[int]:
            taken = set(
                db.scalars(
                    select(Patient.phone).where(Patient.phone.in_(seen), Patient.status != "discharged")
                )
            )
            for number, valid in valid_rows:
                if valid.phone in taken:
                    report.errors.append(RowError(number, "a patient in care already has this phone number"))
            if report.errors or dry_run:
                return []
            # Book everyone, then plan everyone: two bulk flushes instead of several per patient.
            booked = [(self._book(db, valid, now), valid) for _, valid in valid_rows]
            db.flush()
            self._plan_new(db, booked, now)
            return [patient.id for patient, _ in booked]

        report.patient_ids = self._transaction(work)
        report.errors.sort(key=lambda e: e.line)
        return report

    def preview(self, request: EnrolRequest) -> dict[str, Any]:
        """What `enrol` would plan for `request`, computed by the pure planner; nothing is written.

        The shape is `enrol`'s, except that nothing has an id yet: an appointment has a `ref`
        (1, 2, ...) instead, and a reminder the `appointment_ref` of its session (None for the
        welcome). Raises InvalidInput exactly as `enrol` would.
        """
        now = self.clock.now()
        valid = self._validate(request, now)
        with UnitOfWork(self.sessions) as uow:
            self._check_number_free(uow.session, valid.phone)
        tz = zone(valid.timezone)
        closed = self.settings.clinic_closed_days
        sessions = [
            (s.kind, s.number, to_utc(s.local_start, tz))
            for s in course.first_sessions(valid.protocol, valid.first_local, closed)
        ]
        if valid.interval_days is not None and not any(kind == "touch-up" for kind, _, _ in sessions):
            # As ensure_next_touch_up books it: one interval after the latest session, at the
            # first session's time of day, never before tomorrow.
            touch_up = course.next_touch_up(
                to_local(sessions[-1][2], tz).date(),
                valid.interval_days,
                to_local(sessions[0][2], tz).time(),
                1,
                closed,
                not_before=to_local(now, tz).date() + timedelta(days=1),
            )
            sessions.append((touch_up.kind, touch_up.number, to_utc(touch_up.local_start, tz)))
        texts = plan.plan_reminders(
            [
                plan.Session(ref, 0, kind, number, starts_at, now)
                for ref, (kind, number, starts_at) in enumerate(sessions, start=1)
            ],
            tz,
            self.settings.send_window,
            self.settings.daily_text_limit,
        )
        planned = [plan_welcome(now, tz, self.settings.send_window), *texts]
        return {
            "patient": {
                "name": valid.name,
                "phone": valid.phone,
                "timezone": valid.timezone,
                "protocol": valid.protocol.id,
                "status": "active",
                "touch_up_interval_days": valid.interval_days,
                "consent": valid.consent,
            },
            "appointments": [
                {
                    "ref": ref,
                    "kind": kind,
                    "number": number,
                    "starts_at": starts_at.isoformat(),
                    "local_start": starts_at.astimezone(tz).isoformat(),
                    "status": "scheduled",
                }
                for ref, (kind, number, starts_at) in enumerate(sessions, start=1)
            ],
            "reminders": [
                {
                    "appointment_ref": p.appointment_id,
                    "kind": p.kind.value,
                    "due_at": p.due_at.isoformat(),
                    "deadline": views.instant(p.deadline),
                    "status": p.status,
                    "reason": p.reason,
                }
                for p in planned
            ],
        }

    def _validate(self, request: EnrolRequest, now: datetime) -> _Valid:
        name = request.name
        if not name.strip():
            raise InvalidInput("name is required", field="name")
        if len(name) > MAX_NAME:
            raise InvalidInput(f"name is longer than {MAX_NAME} characters", field="name")
        if _CONTROL.search(name):
            raise InvalidInput("name contains control characters", field="name")
        phone = parse_mobile(request.phone, self.settings.default_phone_region)
        tz = zone(request.timezone.strip())
        protocol = self.protocol(request.protocol.strip())
        first_local = parse_local(request.first, "first")
        if to_utc(first_local, tz) <= now:
            raise InvalidInput(
                f"the first session ({request.first.strip()} {tz.key}) is in the past",
                field="first",
            )
        if to_utc(first_local, tz) > now + timedelta(days=366):
            raise InvalidInput("the first session is more than a year away", field="first")
        consent = request.consent.strip()
        if not consent:
            raise InvalidInput(
                "consent source is required (how the patient agreed to texts)", field="consent"
            )
        if len(consent) > MAX_CONSENT or _CONTROL.search(consent):
            raise InvalidInput("consent source is too long or has control characters", field="consent")
        interval = request.interval_days
        if interval is None:
            interval = protocol.touch_up_days
        else:
            problem = protocol.interval_problem(interval)
            if problem:
                raise InvalidInput(problem, field="interval")
        return _Valid(name, phone, tz.key, protocol, first_local, consent, interval)  # fmt: skip

    def _check_number_free(self, db: Session, phone: str) -> None:
        taken = db.scalar(
            select(func.count())
            .select_from(Patient)
            .where(Patient.phone == phone, Patient.status != "discharged")
        )
        if taken:
            raise Conflict("a patient in care already has this phone number", field="phone")

    def _enrol(self, db: Session, valid: _Valid, now: datetime) -> Patient:
        patient = self._book(db, valid, now)
        db.flush()
        self._plan_new(db, [(patient, valid)], now)
        return patient

    def _book(self, db: Session, valid: _Valid, now: datetime) -> Patient:
        """A new patient and their first sessions, not yet flushed."""
        tz = zone(valid.timezone)
        patient = Patient(
            name=valid.name,
            phone=valid.phone,
            timezone=valid.timezone,
            protocol=valid.protocol.id,
            status="active",
            touch_up_interval_days=valid.interval_days,
            consent_source=valid.consent,
            consent_at=now,
            created_at=now,
            updated_at=now,
        )
        db.add(patient)
        closed = self.settings.clinic_closed_days
        for session in course.first_sessions(valid.protocol, valid.first_local, closed):
            patient.appointments.append(
                Appointment(
                    kind=session.kind,
                    number=session.number,
                    starts_at=to_utc(session.local_start, tz),
                    status="scheduled",
                    revision=0,
                    booked_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        ensure_next_touch_up(db, patient, self.settings, now, flush=False)
        return patient

    def _plan_new(self, db: Session, booked: list[tuple[Patient, _Valid]], now: datetime) -> None:
        """The texts and audit entries of patients just booked (their sessions flushed)."""
        rows = [row for patient, _ in booked for row in new_patient_reminders(patient, self.settings, now)]
        db.execute(insert(Reminder), rows)
        entries = [
            {
                "at": now,
                "actor": self.actor,
                "action": "enrol",
                "patient_id": patient.id,
                "appointment_id": None,
                "details": {"protocol": valid.protocol.id},
            }
            for patient, valid in booked
        ]
        db.execute(insert(AuditEntry), entries)

    # -- changes to a session ------------------------------------------------------------------

    def reschedule(self, appointment_id: int, when: str) -> dict[str, Any]:
        now = self.clock.now()
        local = parse_local(when, "when")

        def work(db: Session) -> int:
            appointment = self._appointment(db, appointment_id)
            patient = appointment.patient
            self._require_in_care(patient)
            if appointment.status not in ("scheduled", "confirmed", "missed"):
                raise InvalidInput(f"a session that is {appointment.status} cannot be rescheduled")
            tz = zone(patient.timezone)
            starts_at = to_utc(local, tz)
            if starts_at <= now:
                raise InvalidInput(f"{when.strip()} ({tz.key}) is in the past", field="when")
            for other in patient.appointments:
                if (
                    other.id != appointment.id
                    and other.status in ("scheduled", "confirmed", "attended")
                    and to_local(other.starts_at, tz).date() == local.date()
                ):
                    raise Conflict(f"the patient already has a session on {local.date()}")
            before = appointment.starts_at
            was_missed = appointment.status == "missed"
            _move(appointment, starts_at, now)
            if was_missed and patient.hold_reason == "missed-session":
                patient.hold_reason = None
            replan(db, patient, self.settings, now, "rescheduled")
            self._audit(
                db,
                now,
                "reschedule",
                patient,
                appointment,
                {"from": before.isoformat(), "to": starts_at.isoformat()},
            )
            return patient.id  # fmt: skip

        return self.show(self._transaction(work), with_messages=False)

    def cancel(self, appointment_id: int) -> dict[str, Any]:
        now = self.clock.now()

        def work(db: Session) -> int:
            appointment = self._appointment(db, appointment_id)
            patient = appointment.patient
            if appointment.status not in ("scheduled", "confirmed"):
                raise InvalidInput(f"a session that is {appointment.status} cannot be cancelled")
            appointment.status = "cancelled"
            appointment.status_reason = "cancelled-by-staff"
            appointment.updated_at = now
            ensure_next_touch_up(db, patient, self.settings, now)
            replan(db, patient, self.settings, now, "appointment-cancelled")
            self._audit(db, now, "cancel", patient, appointment)
            return patient.id

        return self.show(self._transaction(work), with_messages=False)

    def outcome(self, appointment_id: int, outcome: str) -> dict[str, Any]:
        if outcome not in ("attended", "missed"):
            raise InvalidInput("outcome must be 'attended' or 'missed'", field="outcome")
        now = self.clock.now()

        def work(db: Session) -> int:
            appointment = self._appointment(db, appointment_id)
            patient = appointment.patient
            if appointment.status == "cancelled":
                raise InvalidInput("a cancelled session has no outcome")
            if appointment.starts_at > now:
                raise InvalidInput("that session has not started yet")
            appointment.status = outcome
            appointment.status_reason = None
            appointment.updated_at = now
            if outcome == "missed":
                # Staff decide what happens next; nothing more is booked automatically.
                patient.hold_reason = "missed-session"
                patient.updated_at = now
            else:
                if patient.hold_reason == "missed-session" and not any(
                    a.status == "missed" for a in patient.appointments
                ):
                    patient.hold_reason = None
                ensure_next_touch_up(db, patient, self.settings, now)
            replan(db, patient, self.settings, now, f"session-{outcome}")
            self._audit(db, now, f"outcome-{outcome}", patient, appointment)
            return patient.id

        return self.show(self._transaction(work), with_messages=False)

    # -- changes to a patient ------------------------------------------------------------------

    def pause(self, patient_id: int) -> dict[str, Any]:
        return self._set_status(patient_id, "pause", "paused", ("active",))

    def resume(self, patient_id: int) -> dict[str, Any]:
        return self._set_status(patient_id, "resume", "active", ("active", "paused"))

    def discharge(self, patient_id: int) -> dict[str, Any]:
        return self._set_status(patient_id, "discharge", "discharged", ("active", "paused"))

    def _set_status(
        self, patient_id: int, action: str, status: str, allowed_from: Sequence[str]
    ) -> dict[str, Any]:
        now = self.clock.now()

        def work(db: Session) -> int:
            patient = self._patient(db, patient_id)
            if patient.status not in allowed_from:
                raise InvalidInput(f"cannot {action} a patient who is {patient.status}")
            patient.status = status
            patient.updated_at = now
            if status == "discharged":
                for appointment in patient.appointments:
                    if appointment.status in ("scheduled", "confirmed") and (appointment.starts_at > now):
                        appointment.status = "cancelled"
                        appointment.status_reason = "discharged"
                        appointment.updated_at = now
            if action == "resume":
                # Resuming is the staff action that lifts a hold after a missed session.
                patient.hold_reason = None
                ensure_next_touch_up(db, patient, self.settings, now)
            replan(db, patient, self.settings, now, {"pause": "paused"}.get(action, status))
            self._audit(db, now, action, patient)
            return patient.id

        return self.show(self._transaction(work), with_messages=False)

    def change_phone(self, patient_id: int, phone: str) -> dict[str, Any]:
        """Give the patient a new number; a number flagged invalid is cleared and texts resume."""
        now = self.clock.now()
        number = parse_mobile(phone, self.settings.default_phone_region)

        def work(db: Session) -> int:
            patient = self._patient(db, patient_id)
            self._require_in_care(patient)
            if number != patient.phone:
                self._check_number_free(db, number)
            patient.phone = number
            patient.phone_invalid_at = None
            patient.updated_at = now
            replan(db, patient, self.settings, now, "replanned")
            self._audit(db, now, "change-phone", patient)
            return patient.id

        return self.show(self._transaction(work), with_messages=False)

    def set_interval(self, patient_id: int, days: int) -> dict[str, Any]:
        """Change the touch-up interval; only the upcoming touch-up moves."""
        now = self.clock.now()

        def work(db: Session) -> int:
            patient = self._patient(db, patient_id)
            self._require_in_care(patient)
            protocol = self.protocol(patient.protocol)
            problem = protocol.interval_problem(days)
            if problem:
                raise InvalidInput(problem, field="days")
            before = patient.touch_up_interval_days
            patient.touch_up_interval_days = days
            patient.updated_at = now
            for appointment in upcoming_touch_ups(patient, now):
                starts_at = next_touch_up_start(patient, self.settings, now, ignore=appointment)
                if starts_at is not None and starts_at != appointment.starts_at:
                    _move(appointment, starts_at, now)
            ensure_next_touch_up(db, patient, self.settings, now)
            replan(db, patient, self.settings, now, "interval-changed")
            self._audit(db, now, "interval", patient, details={"from": before, "to": days})
            return patient.id

        return self.show(self._transaction(work), with_messages=False)

    # -- housekeeping --------------------------------------------------------------------------

    def extend_plans(self) -> int:
        """Book the next touch-up for every active patient who has none upcoming (idempotent).

        Returns how many touch-ups were booked. Each patient is its own transaction, so one
        patient's problem does not hold up the rest.
        """
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            upcoming = (
                select(Appointment.id)
                .where(
                    Appointment.patient_id == Patient.id,
                    Appointment.kind == "touch-up",
                    Appointment.status.in_(("scheduled", "confirmed")),
                    Appointment.starts_at > now,
                )
                .exists()
            )
            # Only patients who have no upcoming touch-up: one query, however many are in care.
            ids = list(
                uow.session.scalars(
                    select(Patient.id).where(
                        Patient.status == "active",
                        Patient.hold_reason.is_(None),
                        Patient.touch_up_interval_days.is_not(None),
                        ~upcoming,
                    )
                )
            )
        booked = 0
        for patient_id in ids:

            def work(db: Session, patient_id: int = patient_id) -> bool:
                patient = self._patient(db, patient_id)
                appointment = ensure_next_touch_up(db, patient, self.settings, now)
                if appointment is None:
                    return False
                replan(db, patient, self.settings, now, "replanned")
                self._audit(db, now, "book-touch-up", patient, appointment)
                return True

            try:
                booked += self._transaction(work)
            except Exception:
                # One patient's problem must not stop the others' touch-ups being booked.
                log.exception("could not book the next touch-up for patient %s", patient_id)
        return booked

    # -- reading -------------------------------------------------------------------------------

    def show(self, patient_id: int, *, with_messages: bool = True) -> dict[str, Any]:
        with UnitOfWork(self.sessions) as uow:
            patient = self._patient(uow.session, patient_id)
            return views.patient_detail(uow.session, patient, with_messages=with_messages)

    def patients(self, status: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in views.PATIENT_FILTERS:
            raise InvalidInput(f"status must be one of {', '.join(views.PATIENT_FILTERS)}", field="status")
        with UnitOfWork(self.sessions) as uow:
            return views.patient_list(uow.session, status)

    def protocol(self, protocol_id: str) -> Protocol:
        try:
            return self.protocols[protocol_id]
        except KeyError:
            known = ", ".join(sorted(self.protocols))
            raise InvalidInput(f"unknown protocol {protocol_id!r} (known: {known})",
                               field="protocol") from None  # fmt: skip

    # -- plumbing ------------------------------------------------------------------------------

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with UnitOfWork(self.sessions) as uow:
            result = work(uow.session)
            uow.commit()
            return result

    def _patient(self, db: Session, patient_id: int) -> Patient:
        patient = db.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        return patient

    def _appointment(self, db: Session, appointment_id: int) -> Appointment:
        appointment = db.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment with id {appointment_id}")
        return appointment

    def _require_in_care(self, patient: Patient) -> None:
        if patient.status == "discharged":
            raise InvalidInput("the patient has been discharged")

    def _audit(
        self,
        db: Session,
        now: datetime,
        action: str,
        patient: Patient,
        appointment: Appointment | None = None,
        details: dict[str, object] | None = None,
        *,
        flush: bool = True,
    ) -> None:
        db.add(
            AuditEntry(
                at=now,
                actor=self.actor,
                action=action,
                patient_id=patient.id,
                appointment_id=appointment.id if appointment else None,
                details=details or {},
            )
        )
        if flush:
            db.flush()


def _move(appointment: Appointment, starts_at: datetime, now: datetime) -> None:
    """Book the session at a new time: a new revision, so it gets a fresh set of texts."""
    appointment.starts_at = starts_at
    appointment.status = "scheduled"
    appointment.status_reason = None
    appointment.revision += 1
    appointment.booked_at = now
    appointment.confirmed_at = None
    appointment.change_requested_at = None
    appointment.updated_at = now


def parse_local(text: str, field_name: str) -> datetime:
    """A wall-clock time written as YYYY-MM-DD HH:MM (no zone: the patient's zone applies)."""
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{text.strip()!r} is not a time like {LOCAL_TIME_FORMAT}", field=field_name)
    try:
        year, month, day, hour, minute = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute)  # noqa: DTZ001 - a wall-clock time
    except ValueError as exc:
        raise InvalidInput(f"{text.strip()!r} is not a real date and time ({exc})",
                           field=field_name) from None  # fmt: skip
