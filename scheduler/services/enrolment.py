"""Enrolling patients: one at a time, a CSV file at once, or a preview of either that writes nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain import course
from scheduler.domain.enrolment import Enrolment, EnrolRequest, check_enrolment
from scheduler.domain.oddities import time_warnings
from scheduler.domain.states import AppointmentStatus, PatientStatus
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.errors import InvalidInput
from scheduler.services.audit import entry
from scheduler.services.base import Service, number_holder, number_taken
from scheduler.services.results import PatientDetail, patient_detail
from scheduler.store.models import Appointment, AuditEntry, Patient, Reminder
from scheduler.store.uow import UnitOfWork

CSV_COLUMNS = ("name", "phone", "timezone", "protocol", "first", "consent")
OPTIONAL_CSV_COLUMNS = ("language",)


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


class Enrolling(Service):
    def check(self, request: EnrolRequest, now: datetime) -> Enrolment:
        """`request` in stored form, or InvalidInput naming every problem."""
        return check_enrolment(request, self.protocols, self.settings.default_phone_region, now)

    def enrol(self, request: EnrolRequest) -> PatientDetail:
        """Enrol a patient and plan their whole course."""
        now = self.clock.now()
        enrolment = self.check(request, now)
        return self.transaction(lambda db: self._enrol(db, enrolment, now), phone=enrolment.phone)

    def preview(self, request: EnrolRequest) -> PatientDetail:
        """What `enrol` would plan: the real enrolment, in a transaction that is rolled back.

        Raises InvalidInput exactly as `enrol` would; the ids in the answer are never used.
        """
        now = self.clock.now()
        enrolment = self.check(request, now)
        with UnitOfWork(self.database) as uow:
            return self._enrol(uow.db, enrolment, now)

    def import_csv(self, text: str, *, dry_run: bool = False) -> ImportReport:
        """Check every row; write all of them in one transaction, or none."""
        now = self.clock.now()
        report = ImportReport()
        valid: list[tuple[int, Enrolment]] = []
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
                        **{c: row[c] for c in CSV_COLUMNS}, language=row.get("language") or ""
                    )
                    enrolment = self.check(request, now)
                    if enrolment.phone in seen:
                        raise InvalidInput(f"same phone number as line {seen[enrolment.phone]}")
                    seen[enrolment.phone] = line
                    valid.append((line, enrolment))
                except InvalidInput as exc:
                    report.errors.append(RowError(line, str(exc)))
        except csv.Error as exc:
            report.errors.append(RowError(reader.line_num, f"unreadable CSV: {exc}"))
        if report.rows == 0 and not report.errors:
            report.errors.append(RowError(1, "no rows to import"))

        def work(db: DbSession) -> list[int]:
            taken = set(
                db.scalars(
                    select(Patient.phone).where(
                        Patient.phone.in_(seen), Patient.status != PatientStatus.DISCHARGED
                    )
                )
            )
            for line, enrolment in valid:
                if enrolment.phone in taken:
                    report.errors.append(RowError(line, "a patient in care already has this phone number"))
            if report.errors or dry_run:
                return []
            # Book everyone, then plan everyone: two bulk flushes instead of several per patient.
            booked = [(self._book(db, enrolment, now), enrolment) for _, enrolment in valid]
            db.flush()
            self._plan_new(db, booked, now)
            return [patient.id for patient, _ in booked]

        report.patient_ids = self.transaction(work)
        report.errors.sort(key=lambda e: e.line)
        return report

    def _enrol(self, db: DbSession, enrolment: Enrolment, now: datetime) -> PatientDetail:
        check_number_free(db, enrolment.phone)
        patient = self._book(db, enrolment, now)
        db.flush()
        self._plan_new(db, [(patient, enrolment)], now)
        tz = zone(enrolment.timezone)
        warnings = time_warnings(enrolment.first_local, tz, self.settings.clinic_closed_days)
        return patient_detail(db, patient, warnings)

    def _book(self, db: DbSession, enrolment: Enrolment, now: datetime) -> Patient:
        """A new patient and their first sessions, not yet flushed."""
        tz = zone(enrolment.timezone)
        patient = Patient(
            name=enrolment.name,
            phone=enrolment.phone,
            timezone=enrolment.timezone,
            protocol=enrolment.protocol.id,
            status=PatientStatus.ACTIVE,
            touch_up_interval_days=enrolment.interval_days,
            consent_source=enrolment.consent,
            consent_at=now,
            language=enrolment.language,
            created_at=now,
            updated_at=now,
        )
        db.add(patient)
        closed = self.settings.clinic_closed_days
        tomorrow = to_local(now, tz).date() + timedelta(days=1)
        sessions = course.initial_sessions(
            enrolment.protocol, enrolment.first_local, closed, enrolment.interval_days, tomorrow
        )
        for session in sessions:
            patient.appointments.append(
                Appointment(
                    kind=session.kind,
                    number=session.number,
                    starts_at=to_utc(session.local_start, tz),
                    status=AppointmentStatus.SCHEDULED,
                    revision=0,
                    booked_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        return patient

    def _plan_new(self, db: DbSession, booked: list[tuple[Patient, Enrolment]], now: datetime) -> None:
        """The texts and audit entries of patients just booked (their sessions flushed)."""
        rows = [row for patient, _ in booked for row in self.planner.new_patient_reminders(patient, now)]
        db.execute(insert(Reminder), rows)
        entries = [
            entry(now, self.actor, "enrol", patient.id, details={"protocol": enrolment.protocol.id})
            for patient, enrolment in booked
        ]
        db.execute(insert(AuditEntry), entries)


def check_number_free(db: DbSession, phone: str) -> None:
    holder = number_holder(db, phone)
    if holder is not None:
        raise number_taken(holder)
