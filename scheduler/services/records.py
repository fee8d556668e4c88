"""Reading patients: one with their whole course, or a list filtered as staff ask."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, func, or_, select, true, union
from sqlalchemy.orm import aliased

from scheduler.domain.phones import parse_mobile
from scheduler.domain.states import PatientStatus
from scheduler.errors import InvalidInput
from scheduler.services.base import Service, get_patient
from scheduler.services.results import PatientRecord, PatientView, ReplyView, patient_record
from scheduler.store.models import Appointment, Patient, Reply
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


def of_patient_in_care(patient_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """Rows of patients not discharged, as an anti-join that looks each row's patient up by id:
    a count over a day's sessions reads that day's sessions and their patients, not every patient
    (as a join can) nor every discharged one (as NOT IN would, in memory or row by row)."""
    patient = aliased(Patient)  # its own: the query may join the patients table too
    return ~exists().where(patient.id == patient_id, patient.status == PatientStatus.DISCHARGED)


# A search that is a phone number as people type it: digits with spaces, dots, dashes, brackets.
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")
MAX_PAGE = 500


def matching_search(text: str, region: str) -> ColumnElement[bool]:
    """Patients a staff search finds: by the name (any part, any case), by the record number
    (exactly, any case), or by the phone number typed any usual way: in full, national or
    international ("(201) 555-0123", "+1 201-555-0123"), or its last four digits or more."""
    query = text.strip()[:100]
    if not query:
        return true()
    by_record = func.lower(Patient.external_id) == query.lower()
    digits = re.sub(r"\D", "", query)
    if _PHONE_LIKE.fullmatch(query) and len(digits) >= 4:
        found = [by_record, Patient.phone.endswith(digits)]
        with contextlib.suppress(InvalidInput):  # not a whole number: the last digits still match
            found.append(Patient.phone == parse_mobile(query, region))
        return or_(*found)
    return or_(func.lower(Patient.name).contains(query.lower(), autoescape=True), by_record)


@dataclass(frozen=True)
class PatientQuery:
    """What an EHR asks for: a slice of patients by id (`after` the last one it has, `limit` of
    them), narrowed by status, a search, its own record number, a phone number, or a change
    since a time (the patient's record, or any of their sessions)."""

    limit: int = 50
    after: int = 0
    status: str | None = None
    search: str = ""
    external_id: str | None = None
    phone: str | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class Paging:
    """Which slice of a list to show: `limit` rows after the first `offset`."""

    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if self.offset < 0:
            raise InvalidInput("offset must not be negative", field="offset")


class Records(Service):
    def show(self, patient_id: int) -> PatientRecord:
        """The patient, every session, every planned text and every message sent."""
        with UnitOfWork(self.database) as uow:
            return patient_record(uow.db, get_patient(uow.db, patient_id))

    def patients(
        self, status: str | None = None, search: str = "", paging: Paging | None = None
    ) -> list[PatientView]:
        """Patients by id, filtered by status and a search (name, record number or phone);
        every one, or the page `paging` asks for."""
        return self.patient_list(status, search, paging)[0]

    def patient_page(self, query: PatientQuery) -> tuple[list[PatientView], bool]:
        """Patients with ids after `query.after`, in id order, and whether more follow. New
        patients get higher ids, so paging on while patients are added skips and repeats none."""
        Paging(limit=query.limit)  # the same bounds as every list
        where = [
            Patient.id > query.after,
            matching_status(patient_filter(query.status)),
            matching_search(query.search, self.settings.default_phone_region),
        ]
        if query.external_id is not None:
            where.append(Patient.external_id == query.external_id.strip())
        if query.phone is not None:
            where.append(Patient.phone == parse_mobile(query.phone, self.settings.default_phone_region))
        if query.updated_since is not None:
            since = query.updated_since
            if since.tzinfo is None:
                problem = "updated_since needs an offset, e.g. 2026-03-09T10:00:00Z"
                raise InvalidInput(problem, field="updated_since")
            # The few changed since (an EHR polls often) from the two indexes on updated_at, rather
            # than a look at every patient's sessions.
            changed = union(
                select(Patient.id).where(Patient.updated_at > since),
                select(Appointment.patient_id).where(Appointment.updated_at > since),
            )
            where.append(Patient.id.in_(changed))
        statement = select(Patient).where(*where).order_by(Patient.id).limit(query.limit + 1)
        with UnitOfWork(self.database) as uow:
            rows = [PatientView.of(p) for p in uow.db.scalars(statement)]
        return rows[: query.limit], len(rows) > query.limit

    def replies(self, patient_id: int) -> list[ReplyView]:
        """What the patient has texted, newest first: confirmations, change requests, opt-outs,
        questions, and what the service answered."""
        with UnitOfWork(self.database) as uow:
            get_patient(uow.db, patient_id)
            found = uow.db.scalars(
                select(Reply).where(Reply.patient_id == patient_id).order_by(Reply.id.desc())
            )
            return [ReplyView.of(reply) for reply in found]

    def patient_list(
        self, status: str | None = None, search: str = "", paging: Paging | None = None
    ) -> tuple[list[PatientView], int]:
        """As `patients`, with how many match in all."""
        where = (
            matching_status(patient_filter(status)),
            matching_search(search, self.settings.default_phone_region),
        )
        query = select(Patient).where(*where).order_by(Patient.id)
        if paging is not None:
            query = query.limit(paging.limit).offset(paging.offset)
        with UnitOfWork(self.database) as uow:
            rows = [PatientView.of(p) for p in uow.db.scalars(query)]
            total = (
                len(rows)
                if paging is None
                else uow.db.scalar(select(func.count()).select_from(Patient).where(*where))
            )
            return rows, total or 0
