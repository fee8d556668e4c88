"""What every service shares: settings, protocols, the database, the clock and who is acting."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.protocols import Protocol, find_protocol
from scheduler.domain.states import PatientStatus
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.services.planning import Planner
from scheduler.services.results import PatientDetail, patient_detail
from scheduler.store.db import violated
from scheduler.store.models import Appointment, Patient
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.services")
T = TypeVar("T")
# How the database names the rule that a number belongs to one patient in care at a time.
PHONE_IN_CARE = ("uq_patients_phone_in_care", "UNIQUE constraint failed: patients.phone")
RECORD_NUMBER = ("uq_patients_external_id", "UNIQUE constraint failed: patients.external_id")
Database = sessionmaker[DbSession]


class Service:
    """Holds the context of an operation; `actor` is who the audit log names (`cli:ana`, `api:ehr`)."""

    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        database: Database,
        clock: Clock,
        actor: str,
    ) -> None:
        self.settings = settings
        self.protocols = protocols
        self.database = database
        self.clock = clock
        self.actor = actor
        self.planner = Planner(settings, protocols)

    def protocol(self, protocol_id: str) -> Protocol:
        return find_protocol(self.protocols, protocol_id)

    def transaction(
        self, work: Callable[[DbSession], T], *, phone: str | None = None, external_id: str | None = None
    ) -> T:
        """Run `work` in one transaction: committed when it returns, rolled back when it raises.

        A write the database refuses because of a change made at the same moment (two enrolments
        of one number, say: both checked it was free before either committed) is a Conflict, never
        an error that quotes the values. `phone`, the number `work` gives a patient, lets it name
        the patient in care who has it now; `external_id`, the record number, likewise.
        """
        try:
            with UnitOfWork(self.database) as uow:
                result = work(uow.db)
                uow.commit()
                return result
        except IntegrityError as exc:
            constraint = violated(exc)
            log.info("a write clashed with a concurrent one (%s)", constraint)
            if phone is not None and constraint in PHONE_IN_CARE:
                with UnitOfWork(self.database) as uow:
                    holder = number_holder(uow.db, phone)
                if holder is not None:
                    raise number_taken(holder) from None
            if external_id is not None and constraint in RECORD_NUMBER:
                with UnitOfWork(self.database) as uow:
                    owner = record_holder(uow.db, external_id)
                if owner is not None:
                    raise record_taken(owner) from None
            raise Conflict(
                "a change to the same records was made at the same moment; nothing was written: try again"
            ) from None

    def detail(self, patient_id: int, warnings: list[str] | None = None) -> PatientDetail:
        """The patient with sessions and texts, as the changing operations answer."""
        with UnitOfWork(self.database) as uow:
            return patient_detail(uow.db, get_patient(uow.db, patient_id), warnings)


def number_holder(db: DbSession, phone: str) -> int | None:
    """The id of the patient in care who has `phone`, if any."""
    holder: int | None = db.scalar(
        select(Patient.id).where(Patient.phone == phone, Patient.status != PatientStatus.DISCHARGED).limit(1)
    )
    return holder


def record_holder(db: DbSession, external_id: str) -> int | None:
    """The id of the patient with this record number, if any (discharged or not)."""
    owner: int | None = db.scalar(select(Patient.id).where(Patient.external_id == external_id).limit(1))
    return owner


def record_taken(owner: int) -> Conflict:
    return Conflict(
        f"another patient has this record number (patient {owner})", field="external_id", existing=owner
    )


def number_taken(holder: int) -> Conflict:
    return Conflict(
        f"a patient in care already has this phone number (patient {holder})", field="phone", existing=holder
    )


def get_patient(db: DbSession, patient_id: int) -> Patient:
    patient = db.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient with id {patient_id}")
    return patient


def get_appointment(db: DbSession, appointment_id: int) -> Appointment:
    appointment = db.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment with id {appointment_id}")
    return appointment


def require_in_care(patient: Patient) -> None:
    if patient.status == PatientStatus.DISCHARGED:
        raise InvalidInput("the patient has been discharged")
