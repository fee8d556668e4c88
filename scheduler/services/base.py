"""What every service shares: settings, protocols, the database, the clock and who is acting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.protocols import Protocol, find_protocol
from scheduler.domain.states import PatientStatus
from scheduler.errors import InvalidInput, NotFound
from scheduler.services.planning import Planner
from scheduler.services.results import PatientDetail, patient_detail
from scheduler.store.models import Appointment, Patient
from scheduler.store.uow import UnitOfWork

T = TypeVar("T")
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

    def transaction(self, work: Callable[[DbSession], T]) -> T:
        """Run `work` in one transaction: committed when it returns, rolled back when it raises."""
        with UnitOfWork(self.database) as uow:
            result = work(uow.db)
            uow.commit()
            return result

    def detail(self, patient_id: int, warnings: list[str] | None = None) -> PatientDetail:
        """The patient with sessions and texts, as the changing operations answer."""
        with UnitOfWork(self.database) as uow:
            return patient_detail(uow.db, get_patient(uow.db, patient_id), warnings)


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
