"""Enrolling patients: one at a time, a CSV file at once, or a preview of either that writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain import course, plan
from scheduler.domain.enrolment import Enrolment, EnrolRequest, check_enrolment
from scheduler.domain.oddities import time_warnings
from scheduler.domain.protocols import DEFAULT_PROTOCOL
from scheduler.domain.states import AppointmentStatus, PatientStatus
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.errors import InvalidInput
from scheduler.services import csv_file
from scheduler.services.audit import entry
from scheduler.services.base import Service, number_holder, number_taken, record_holder, record_taken
from scheduler.services.planning import ReminderRow, SharedPlans
from scheduler.services.results import PatientDetail, patient_detail
from scheduler.store.bulk import ROWS_PER_STATEMENT, BulkInserts, bulk_cache
from scheduler.store.models import Appointment, AuditEntry, Patient, Reminder
from scheduler.store.uow import UnitOfWork


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    patient_ids: list[int] = field(default_factory=list)
    problem: str | None = None  # with the file as a whole: empty, not UTF-8, a column missing

    @property
    def ok(self) -> bool:
        return not self.errors and self.problem is None


class Enrolling(Service):
    def check(self, request: EnrolRequest, now: datetime) -> Enrolment:
        """`request` in stored form, or InvalidInput naming every problem."""
        return check_enrolment(request, self.protocols, self.settings.default_phone_region, now)

    def enrol(self, request: EnrolRequest) -> PatientDetail:
        """Enrol a patient and plan their whole course."""
        now = self.clock.now()
        enrolment = self.check(request, now)
        return self.transaction(
            lambda db: self._enrol(db, enrolment, now),
            phone=enrolment.phone,
            external_id=enrolment.external_id,
        )

    def preview(self, request: EnrolRequest) -> PatientDetail:
        """What `enrol` would plan: the real enrolment, in a transaction that is rolled back.

        Raises InvalidInput exactly as `enrol` would; the ids in the answer are never used.
        """
        now = self.clock.now()
        enrolment = self.check(request, now)
        with UnitOfWork(self.database) as uow:
            return self._enrol(uow.db, enrolment, now)

    def import_csv(self, text: str, *, dry_run: bool = False) -> ImportReport:
        """Check every row; write all of them in one transaction, or none. A blank protocol cell
        takes the default protocol; `language` and `external_id` columns are optional."""
        now = self.clock.now()
        report = ImportReport()
        valid: list[tuple[int, Enrolment]] = []
        phones: dict[str, int] = {}
        records: dict[str, int] = {}
        try:
            for row in csv_file.rows(text):
                report.rows += 1
                try:
                    enrolment = self.check(_request(row.values), now)
                    if enrolment.phone in phones:
                        raise InvalidInput(f"same phone number as line {phones[enrolment.phone]}")
                    if enrolment.external_id in records:
                        raise InvalidInput(f"same record number as line {records[enrolment.external_id]}")
                    phones[enrolment.phone] = row.line
                    if enrolment.external_id is not None:
                        records[enrolment.external_id] = row.line
                    valid.append((row.line, enrolment))
                except InvalidInput as exc:
                    report.errors.append(RowError(row.line, str(exc)))
        except InvalidInput as exc:
            report.problem = str(exc)
            return report
        if report.rows == 0:
            report.problem = "the file has a header line but no patients"
            return report

        def work(db: DbSession) -> list[int]:
            taken = set(
                db.scalars(
                    select(Patient.phone).where(
                        Patient.phone.in_(phones), Patient.status != PatientStatus.DISCHARGED
                    )
                )
            )
            known = set(db.scalars(select(Patient.external_id).where(Patient.external_id.in_(records))))
            for line, enrolment in valid:
                if enrolment.phone in taken:
                    report.errors.append(RowError(line, "a patient in care already has this phone number"))
                if enrolment.external_id in known:
                    report.errors.append(RowError(line, "another patient already has this record number"))
            if report.errors or dry_run:
                return []
            with bulk_cache(db):
                return self._insert_all(db, [enrolment for _, enrolment in valid], now)

        report.patient_ids = self.transaction(work)
        report.errors.sort(key=lambda e: e.line)
        return report

    def _enrol(self, db: DbSession, enrolment: Enrolment, now: datetime) -> PatientDetail:
        check_number_free(db, enrolment.phone)
        if enrolment.external_id is not None:
            owner = record_holder(db, enrolment.external_id)
            if owner is not None:
                raise record_taken(owner)
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
            external_id=enrolment.external_id,
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

    def _insert_all(self, db: DbSession, enrolments: list[Enrolment], now: datetime) -> list[int]:
        """Every patient of an import, their sessions, texts and audit entries: a few bulk inserts
        per table (`store.bulk`), no ORM unit of work; on SQLite the texts are planned while the
        rows before them are written. Ids in order."""
        with BulkInserts(db) as bulk:
            patient_ids = bulk.insert(PATIENTS, [_patient_row(e, now) for e in enrolments], ids=True)
            appointments = self._appointment_rows(patient_ids, enrolments, now)
            appointment_ids = bulk.insert(APPOINTMENTS, appointments, ids=True)
            sessions: dict[int, list[plan.Session]] = {}
            for appointment_id, a in zip(appointment_ids, appointments, strict=True):
                sessions.setdefault(a["patient_id"], []).append(  # type: ignore[arg-type]
                    plan.Session(
                        appointment_id=appointment_id,
                        revision=0,
                        kind=a["kind"],  # type: ignore[arg-type]
                        number=a["number"],  # type: ignore[arg-type]
                        starts_at=a["starts_at"],  # type: ignore[arg-type]
                        booked_at=now,
                    )
                )
            plans = SharedPlans(self.planner, now)
            reminders: list[ReminderRow] = []
            for patient_id, e in zip(patient_ids, enrolments, strict=True):
                reminders += plans.reminders(
                    patient_id, e.timezone, e.protocol.id, e.language, sessions.get(patient_id, [])
                )
                if len(reminders) >= ROWS_PER_STATEMENT:  # written while the rest are planned
                    bulk.insert(REMINDERS, reminders)
                    reminders = []
            bulk.insert(REMINDERS, reminders)
            entries = [
                entry(now, self.actor, "enrol", patient_id, details={"protocol": e.protocol.id})
                for patient_id, e in zip(patient_ids, enrolments, strict=True)
            ]
            bulk.insert(AUDIT_LOG, entries)
        return patient_ids

    def _appointment_rows(
        self, patient_ids: list[int], enrolments: list[Enrolment], now: datetime
    ) -> list[dict[str, object]]:
        closed = self.settings.clinic_closed_days
        appointments: list[dict[str, object]] = []
        for patient_id, enrolment in zip(patient_ids, enrolments, strict=True):
            tz = zone(enrolment.timezone)
            tomorrow = to_local(now, tz).date() + timedelta(days=1)
            for session in course.initial_sessions(
                enrolment.protocol, enrolment.first_local, closed, enrolment.interval_days, tomorrow
            ):
                appointments.append(
                    {
                        "patient_id": patient_id,
                        "kind": session.kind,
                        "number": session.number,
                        "starts_at": to_utc(session.local_start, tz),
                        "status": AppointmentStatus.SCHEDULED,
                        "revision": 0,
                        "booked_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        return appointments

    def _plan_new(self, db: DbSession, booked: list[tuple[Patient, Enrolment]], now: datetime) -> None:
        """The texts and audit entries of patients just booked (their sessions flushed)."""
        rows = [row for patient, _ in booked for row in self.planner.new_patient_reminders(patient, now)]
        db.execute(insert(Reminder), rows)
        entries = [
            entry(now, self.actor, "enrol", patient.id, details={"protocol": enrolment.protocol.id})
            for patient, enrolment in booked
        ]
        db.execute(insert(AuditEntry), entries)


PATIENTS: Table = Patient.__table__  # type: ignore[assignment]
APPOINTMENTS: Table = Appointment.__table__  # type: ignore[assignment]
REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]
AUDIT_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]


def _patient_row(enrolment: Enrolment, now: datetime) -> dict[str, object]:
    return {
        "name": enrolment.name,
        "phone": enrolment.phone,
        "timezone": enrolment.timezone,
        "protocol": enrolment.protocol.id,
        "status": PatientStatus.ACTIVE,
        "touch_up_interval_days": enrolment.interval_days,
        "consent_source": enrolment.consent,
        "consent_at": now,
        "language": enrolment.language,
        "external_id": enrolment.external_id,
        "created_at": now,
        "updated_at": now,
    }


def check_number_free(db: DbSession, phone: str) -> None:
    holder = number_holder(db, phone)
    if holder is not None:
        raise number_taken(holder)


def _request(values: dict[str, str]) -> EnrolRequest:
    """A CSV row as an enrolment, or InvalidInput for a row with the wrong number of cells."""
    if "" in values:
        raise InvalidInput(values[""])
    return EnrolRequest(
        name=values["name"],
        phone=values["phone"],
        timezone=values["timezone"],
        protocol=values.get("protocol", "").strip() or DEFAULT_PROTOCOL,
        first=values["first"],
        consent=values["consent"],
        language=values.get("language", ""),
        external_id=values.get("external_id", ""),
    )
