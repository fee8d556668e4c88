"""Reading patients: one with their whole course, or a list filtered as staff ask."""

from __future__ import annotations

from enum import StrEnum
from typing import cast

from sqlalchemy import ColumnElement, select, true

from scheduler.domain.states import PatientStatus
from scheduler.errors import InvalidInput
from scheduler.services.base import Service, get_patient
from scheduler.services.results import PatientRecord, PatientView, patient_record
from scheduler.store.models import Patient
from scheduler.store.uow import UnitOfWork


class PatientFilter(StrEnum):
    """`reminders patients --status`: a status, or those opted out, or those staff must act on."""

    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"
    OPTED_OUT = "opted-out"
    ATTENTION = "attention"


def matching_status(wanted: PatientFilter | None) -> ColumnElement[bool]:
    """The SQL condition for a patient filter (every patient for None)."""
    if wanted is None:
        return true()
    if wanted is PatientFilter.OPTED_OUT:
        return Patient.opted_out_at.is_not(None)
    if wanted is PatientFilter.ATTENTION:
        return cast(ColumnElement[bool], Patient.needs_attention)
    return Patient.status == PatientStatus(wanted.value)


def patient_filter(status: str | None) -> PatientFilter | None:
    """`status` as a filter, or InvalidInput naming the ones there are."""
    if status is None:
        return None
    try:
        return PatientFilter(status)
    except ValueError:
        known = ", ".join(PatientFilter)
        raise InvalidInput(f"status must be one of {known}", field="status") from None


class Records(Service):
    def show(self, patient_id: int) -> PatientRecord:
        """The patient, every session, every planned text and every message sent."""
        with UnitOfWork(self.database) as uow:
            return patient_record(uow.db, get_patient(uow.db, patient_id))

    def patients(self, status: str | None = None) -> list[PatientView]:
        wanted = patient_filter(status)
        with UnitOfWork(self.database) as uow:
            rows = uow.db.scalars(select(Patient).where(matching_status(wanted)).order_by(Patient.id))
            return [PatientView.of(p) for p in rows]
