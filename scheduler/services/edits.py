"""Correcting a patient's record and their course without starting over: the name, time zone,
consent, record number, language and protocol; a session added; a cancelled one brought back.

Each is one transaction with its re-plan and an audit entry that names the fields changed (never
their values). Texts already sent are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain import course
from scheduler.domain.enrolment import (
    check_consent,
    check_external_id,
    check_language,
    check_name,
    check_start,
)
from scheduler.domain.oddities import Booked, course_warnings, time_warnings
from scheduler.domain.protocols import Protocol, find_protocol
from scheduler.domain.states import (
    PLANNED,
    UPCOMING,
    AppointmentReason,
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
from scheduler.errors import FORM, InvalidInput
from scheduler.services.audit import audit
from scheduler.services.base import (
    Service,
    get_appointment,
    get_patient,
    record_holder,
    record_taken,
    require_in_care,
)
from scheduler.services.course import check_day_free
from scheduler.services.results import PatientDetail, patient_detail
from scheduler.store.models import Appointment, Patient, Reminder
from scheduler.store.uow import UnitOfWork

T = TypeVar("T")
_WENT_OUT = (ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN)


@dataclass(frozen=True)
class EditRequest:
    """The fields to change, as typed; None leaves a field as it is. An empty record number
    clears it. A new protocol needs `start`: when its course begins (the patient's local time)."""

    name: str | None = None
    timezone: str | None = None
    consent: str | None = None
    external_id: str | None = None
    language: str | None = None
    protocol: str | None = None
    start: str | None = None


@dataclass(frozen=True)
class _Checked:
    name: str | None
    consent: str | None
    language: Language | None
    external_id: str | None
    timezone: str | None
    protocol: Protocol | None
    start: datetime | None


class PatientEdits(Service):
    def edit(self, patient_id: int, request: EditRequest, *, preview: bool = False) -> PatientDetail:
        """Change the patient's record. A time zone fix keeps future sessions at their local
        wall-clock times; a protocol change cancels the sessions ahead and books the new
        protocol's course from `start`. With `preview`, nothing is written."""
        now = self.clock.now()
        warnings: list[str] = []

        def work(db: DbSession) -> PatientDetail:
            patient = get_patient(db, patient_id)
            changed = self._apply(db, patient, request, now, warnings)
            if not changed:
                raise InvalidInput("nothing to change: every field is as it was")
            audit(db, now, self.actor, "edit", patient.id, details={"fields": sorted(changed)})
            db.flush()
            return patient_detail(db, patient, warnings)

        return self._run(work, preview, external_id=request.external_id)

    def add_session(self, patient_id: int, when: str, *, preview: bool = False) -> PatientDetail:
        """Book one more session of the patient's course (a touch-up once touch-ups have begun,
        else an induction session); the patient is told of it."""
        now = self.clock.now()
        warnings: list[str] = []

        def work(db: DbSession) -> PatientDetail:
            patient = get_patient(db, patient_id)
            require_in_care(patient)
            tz = zone(patient.timezone)
            local = check_start(when, tz, now, "when", "the new session")
            check_day_free(patient, local, tz)
            starts_at = to_utc(local, tz)
            kind = _phase(patient, starts_at)
            others = [
                Booked(a.kind, a.number, a.starts_at) for a in patient.appointments if a.status in PLANNED
            ]
            appointment = Appointment(
                kind=kind,
                number=-1 - len(patient.appointments),  # numbered in order below
                starts_at=starts_at,
                status=AppointmentStatus.SCHEDULED,
                revision=0,
                booked_at=now,
                notice=NoticeKind.ADDED,
                notice_at=now,
                created_at=now,
                updated_at=now,
            )
            patient.appointments.append(appointment)
            _renumber(db, patient, kind, now)
            warnings.extend(time_warnings(local, tz, self.settings.clinic_closed_days))
            warnings.extend(course_warnings(Booked(kind, appointment.number, starts_at), others, tz))
            patient.updated_at = now
            db.flush()
            self.planner.replan(db, patient, now, Reason.REPLANNED)
            audit(db, now, self.actor, "add-session", patient.id, appointment.id)
            return patient_detail(db, patient, warnings)

        return self._run(work, preview)

    def restore(self, appointment_id: int, *, preview: bool = False) -> PatientDetail:
        """Bring back a cancelled session that is still ahead. The patient hears of it only if
        they were told of the cancellation; a touch-up booked in its place is cancelled."""
        now = self.clock.now()

        def work(db: DbSession) -> PatientDetail:
            appointment = get_appointment(db, appointment_id)
            patient = appointment.patient
            require_in_care(patient)
            if appointment.status != AppointmentStatus.CANCELLED:
                raise InvalidInput(
                    f"only a cancelled session can be restored; this one is {appointment.status}"
                )
            if appointment.starts_at <= now:
                raise InvalidInput("that session's time has passed: add a new session instead")
            tz = zone(patient.timezone)
            check_day_free(patient, to_local(appointment.starts_at, tz), tz, appointment)
            told = _patient_was_told(db, appointment, NoticeKind.CANCELLED)
            appointment.status = AppointmentStatus.SCHEDULED
            appointment.status_reason = None
            appointment.revision += 1
            appointment.booked_at = now
            appointment.confirmed_at = appointment.change_requested_at = None
            appointment.notice = NoticeKind.ADDED if told else None
            appointment.notice_at = now if told else None
            appointment.updated_at = now
            if appointment.kind == SessionKind.TOUCH_UP:
                for later in patient.appointments:
                    if (
                        later is not appointment
                        and later.kind == SessionKind.TOUCH_UP
                        and later.status in UPCOMING
                        and later.starts_at > appointment.starts_at
                    ):
                        _cancel(db, later, AppointmentReason.REPLACED, now)
            patient.updated_at = now
            self.planner.replan(db, patient, now, Reason.REPLANNED)
            audit(db, now, self.actor, "restore", patient.id, appointment.id)
            return patient_detail(db, patient)

        return self._run(work, preview)

    # -- the edit itself -----------------------------------------------------------------------

    def _apply(
        self, db: DbSession, patient: Patient, request: EditRequest, now: datetime, warnings: list[str]
    ) -> set[str]:
        """Check every field first (InvalidInput naming each problem), then change them."""
        wanted = self._checked(patient, request, now)
        if wanted.external_id and wanted.external_id != patient.external_id:
            owner = record_holder(db, wanted.external_id)
            if owner is not None and owner != patient.id:
                raise record_taken(owner)
        changed: set[str] = set()
        for field, value in (
            ("name", wanted.name),
            ("consent_source", wanted.consent),
            ("language", wanted.language),
        ):
            if value is not None and value != getattr(patient, field):
                setattr(patient, field, value)
                changed.add(field.removesuffix("_source"))
        if request.external_id is not None and wanted.external_id != patient.external_id:
            patient.external_id = wanted.external_id
            changed.add("external_id")
        if wanted.timezone is not None and wanted.timezone != patient.timezone:
            self._move_zone(patient, wanted.timezone, now)
            changed.add("timezone")
        if wanted.protocol is not None and wanted.start is not None:
            warnings.extend(self._new_course(db, patient, wanted.protocol, wanted.start, now))
            changed.add("protocol")
        if changed:
            patient.updated_at = now
            db.flush()
            reason = Reason.PROTOCOL_CHANGED if "protocol" in changed else Reason.REPLANNED
            self.planner.replan(db, patient, now, reason)
        return changed

    def _checked(self, patient: Patient, request: EditRequest, now: datetime) -> _Checked:
        problems: dict[str, str] = {}

        def check(field: str, raw: str | None, read: Callable[[str], T]) -> T | None:
            if raw is None:
                return None
            try:
                return read(raw)
            except InvalidInput as exc:
                problems.setdefault(exc.field or field, str(exc))
                return None

        r = request
        new_zone = check("timezone", r.timezone, lambda raw: zone(raw.strip()))
        protocol = check(
            "protocol", r.protocol or None, lambda raw: find_protocol(self.protocols, raw.strip())
        )
        tz = new_zone or zone(patient.timezone)
        start = None
        if protocol is not None and not r.start:
            problems.setdefault("from", "a new protocol needs the day its course starts (from)")
        elif protocol is not None:
            start = check("from", r.start, lambda raw: check_start(raw, tz, now, "from", "the new course"))
        elif r.start:
            problems.setdefault("from", "a start day goes with a new protocol")
        wanted = _Checked(
            name=check("name", r.name, check_name),
            consent=check("consent", r.consent, check_consent),
            language=check("language", r.language, check_language),
            external_id=check("external_id", r.external_id, check_external_id),
            timezone=new_zone.key if new_zone is not None else None,
            protocol=protocol,
            start=start,
        )
        reshaping = (wanted.timezone not in (None, patient.timezone)) or protocol is not None
        if reshaping and patient.status == PatientStatus.DISCHARGED:
            problems.setdefault(FORM, "the patient has been discharged: their course cannot change")
        if problems:
            raise InvalidInput(problems=problems)
        return wanted

    def _move_zone(self, patient: Patient, timezone: str, now: datetime) -> None:
        """The patient lives elsewhere than recorded: each session ahead stays at its wall-clock
        time, now in the right zone (the time the patient was told does not change)."""
        before, after = zone(patient.timezone), zone(timezone)
        for appointment in patient.appointments:
            if appointment.status in UPCOMING and appointment.starts_at > now:
                starts_at = to_utc(to_local(appointment.starts_at, before), after)
                if starts_at <= now:
                    local = to_local(appointment.starts_at, before)
                    raise InvalidInput(
                        f"in {timezone}, the session of {local:%Y-%m-%d %H:%M} would already have begun: "
                        "move it first", field="timezone",
                    )  # fmt: skip
                appointment.starts_at, appointment.updated_at = starts_at, now
        patient.timezone = timezone

    def _new_course(
        self, db: DbSession, patient: Patient, protocol: Protocol, start: datetime, now: datetime
    ) -> list[str]:
        """Cancel the sessions ahead and book `protocol`'s course from `start` (local)."""
        tz = zone(patient.timezone)
        for appointment in patient.appointments:
            if appointment.status in UPCOMING and appointment.starts_at > now:
                _cancel(db, appointment, AppointmentReason.PROTOCOL_CHANGED, now)
        interval = patient.touch_up_interval_days
        if protocol.touch_up_days is None:
            interval = None
        elif interval is None or protocol.interval_problem(interval):
            interval = protocol.touch_up_days
        tomorrow = to_local(now, tz).date() + timedelta(days=1)
        sessions = course.initial_sessions(
            protocol, start, self.settings.clinic_closed_days, interval, tomorrow
        )
        numbers = {
            kind: max((a.number for a in patient.appointments if a.kind == kind), default=0)
            for kind in SessionKind
        }
        for session in sessions:
            patient.appointments.append(
                Appointment(
                    kind=session.kind,
                    number=numbers[session.kind] + session.number,
                    starts_at=to_utc(session.local_start, tz),
                    status=AppointmentStatus.SCHEDULED,
                    revision=0,
                    booked_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        patient.protocol = protocol.id
        patient.touch_up_interval_days = interval
        patient.hold_reason = None  # staff have decided what comes next
        return time_warnings(start, tz, self.settings.clinic_closed_days)

    def _run(
        self, work: Callable[[DbSession], PatientDetail], preview: bool, *, external_id: str | None = None
    ) -> PatientDetail:
        if preview:
            with UnitOfWork(self.database) as uow:
                return work(uow.db)  # never committed: rolled back when the block ends
        return self.transaction(work, external_id=(external_id or "").strip() or None)


def _phase(patient: Patient, starts_at: datetime) -> SessionKind:
    """A touch-up once one has been held, or when it falls after the next touch-up booked;
    otherwise one more session of the induction series."""
    touch_ups = [a for a in patient.appointments if a.kind == SessionKind.TOUCH_UP]
    held = any(a.status in (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED) for a in touch_ups)
    booked = [a.starts_at for a in touch_ups if a.status in UPCOMING]
    return SessionKind.TOUCH_UP if held or (booked and starts_at >= min(booked)) else SessionKind.INDUCTION


def _renumber(db: DbSession, patient: Patient, kind: SessionKind, now: datetime) -> None:
    """Number the sessions of `kind` in the order they happen, the cancelled ones after them (a
    number is unique among a patient's sessions of a kind). Numbers change in two steps, through
    negative ones, so no two sessions share one at any moment."""
    same = [a for a in patient.appointments if a.kind == kind]
    live = sorted((a for a in same if a.status != AppointmentStatus.CANCELLED), key=lambda a: a.starts_at)
    gone = sorted((a for a in same if a.status == AppointmentStatus.CANCELLED), key=lambda a: a.number)
    wanted = {id(a): n for n, a in enumerate([*live, *gone], 1)}
    changing = [a for a in same if a.number != wanted[id(a)]]
    for appointment in changing:
        appointment.number = -wanted[id(appointment)]
    db.flush()
    for appointment in changing:
        appointment.number, appointment.updated_at = wanted[id(appointment)], now
    db.flush()


def _patient_was_told(db: DbSession, appointment: Appointment, notice: NoticeKind) -> bool:
    """Whether a text about this session (of the kind `notice` names, or any) went out."""
    keys = select(Reminder.plan_key).where(
        Reminder.appointment_id == appointment.id,
        Reminder.kind == ReminderKind.NOTICE,
        Reminder.status.in_(_WENT_OUT),
    )
    return any(key.endswith(f":{notice}") for key in db.scalars(keys))


def _any_text_went_out(db: DbSession, appointment: Appointment) -> bool:
    found = db.scalar(
        select(Reminder.id)
        .where(Reminder.appointment_id == appointment.id, Reminder.status.in_(_WENT_OUT))
        .limit(1)
    )
    return found is not None


def _cancel(db: DbSession, appointment: Appointment, reason: AppointmentReason, now: datetime) -> None:
    """Cancel a session staff did not ask to cancel one by one; the patient is told only if a
    text about it has already reached them."""
    told = _any_text_went_out(db, appointment)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.status_reason = reason
    appointment.notice = NoticeKind.CANCELLED if told else None
    appointment.notice_at = now if told else None
    appointment.updated_at = now
