"""API routes that correct a record or a course, as `reminders edit`, `add-session` and `restore`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from scheduler.services.edits import EditRequest
from scheduler.services.results import PatientDetail
from scheduler.web.api_common import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    AppointmentId,
    Client,
    PatientId,
    call,
    clinic_for,
)
from scheduler.web.api_models import AddSessionBody, EditBody


def routes(router: APIRouter) -> None:
    @router.patch(
        "/patients/{patient_id}",
        tags=["patients"],
        summary="Correct a patient",
        operation_id="editPatient",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Change only the fields sent, as `reminders edit` does. A new `timezone` keeps "
        "the sessions ahead at their local times; a new `protocol` needs `from`, when its course "
        "begins, and replaces the sessions ahead. 409 for a record number another patient has, or "
        "a discharged patient's course; 422 names every field that is wrong.",
    )
    def edit(request: Request, client: Client, patient_id: PatientId, body: EditBody) -> PatientDetail:
        clinic = clinic_for(request, client)
        change = EditRequest(
            name=body.name,
            timezone=body.timezone,
            consent=body.consent,
            external_id=body.external_id,
            language=body.language,
            protocol=body.protocol,
            start=body.start,
        )
        return call(lambda: clinic.edit(patient_id, change))

    @router.post(
        "/patients/{patient_id}/sessions",
        tags=["patients"],
        summary="Add a session",
        operation_id="addSession",
        status_code=201,
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Book one more session (a touch-up once touch-ups have begun, else an induction "
        "session); the patient is told of it. 409 if the patient already has a session that day or "
        "has been discharged.",
    )
    def add_session(
        request: Request, client: Client, patient_id: PatientId, body: AddSessionBody
    ) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.add_session(patient_id, body.when))

    @router.post(
        "/appointments/{appointment_id}/restore",
        tags=["appointments"],
        summary="Restore a cancelled session",
        operation_id="restoreAppointment",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Bring back a cancelled session that is still ahead, with fresh texts. 409 for a "
        "session that is not cancelled or whose time has passed.",
    )
    def restore(request: Request, client: Client, appointment_id: AppointmentId) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.restore(appointment_id))
