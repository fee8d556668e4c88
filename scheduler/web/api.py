"""The JSON API for clinics that connect an EHR: the CLI's operations, behind bearer tokens.

Every route needs `Authorization: Bearer <token>` (`reminders tokens add NAME`); the token's name is
the actor in the audit log (`api:NAME`). Answers have the shapes the CLI prints with `--json`.

Errors other than 401 have FastAPI's validation-error shape, `{"detail": [{"loc", "msg", "type"}]}`,
so a client can point at what was wrong; nothing is written when a request fails:

- 401: no token, or not a live one (`{"detail": "..."}`, with `WWW-Authenticate: Bearer`).
- 404: the patient or session in the path does not exist (`loc` names the path parameter).
- 409: the request is well formed but clashes with what is stored: a phone number that a patient
  in care already has (`loc` `["body", "phone"]`; the message names that patient and `Location`
  points at them, also when two identical enrolments race), or a patient or session whose state
  does not allow the change, e.g. cancelling a cancelled session (`loc` names the path parameter).
- 413: the body is larger than the API accepts (`scheduler.web.guard`).
- 422: a field is wrong (`loc` `["body", field]` or `["query", parameter]`): missing, of the wrong
  type, unknown, or refused by the clinic's rules (a bad phone number, an unknown time zone or
  protocol, a time in the past, an interval outside the protocol's limits). The answer names the
  field and what is wrong with it, never the value that was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from scheduler.services import Clinic, EnrolRequest
from scheduler.services.records import PatientFilter
from scheduler.services.results import PatientDetail, PatientRecord, PatientView
from scheduler.web import api_corrections, api_reports
from scheduler.web.api_common import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    PREFIX,
    AppointmentId,
    Client,
    PatientId,
    authenticated,
    call,
    clinic_for,
)
from scheduler.web.api_models import (
    EnrolBody,
    ErrorList,
    ErrorMessage,
    IntervalBody,
    OutcomeBody,
    PhoneBody,
    RescheduleBody,
)


def api_router() -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        # On the router, so that no route can be added without the token check.
        dependencies=[Depends(authenticated)],
        responses={401: {"model": ErrorMessage, "description": "No token, or not a live one."}},
    )

    # -- patients ------------------------------------------------------------------------------

    @router.get(
        "/patients",
        tags=["patients"],
        summary="List patients",
        operation_id="listPatients",
        response_model=list[PatientView],
        description="Every patient, oldest first, as `reminders patients --json` prints them.",
    )
    def list_patients(
        request: Request,
        client: Client,
        status: Annotated[
            PatientFilter | None,
            Query(description="Only patients with this status; `attention`: those staff need to act on."),
        ] = None,
        q: Annotated[
            str,
            Query(max_length=100, description="A name, a record number, or a phone number typed any way."),
        ] = "",
    ) -> list[PatientView]:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.patients(status, q), target=("query", "status"))

    @router.post(
        "/patients",
        tags=["patients"],
        summary="Enrol a patient",
        operation_id="enrolPatient",
        status_code=201,
        response_model=PatientDetail,
        responses={
            409: {
                "model": ErrorList,
                "description": 'A patient in care already has this phone number (`loc` `["body", "phone"]`); '
                "the message names them and `Location` points at them.",
            },
            422: INVALID,
        },
        description="Enrol a patient and plan their whole course, as `reminders enrol --json` does; "
        "answers with the patient, every session and every planned text, and a `Location` header.",
    )
    def enrol(request: Request, client: Client, body: EnrolBody, response: Response) -> PatientDetail:
        clinic = clinic_for(request, client)
        enrolment = EnrolRequest(
            name=body.name,
            phone=body.phone,
            timezone=body.timezone,
            protocol=body.protocol,
            first=body.first,
            consent=body.consent,
            interval_days=body.interval_days,
            language=body.language,
            external_id=body.external_id or "",
        )
        detail = call(
            lambda: clinic.enrol(enrolment), target=("body",), fields={"interval": ("body", "interval_days")}
        )
        response.headers["Location"] = f"{PREFIX}/patients/{detail.patient.id}"
        return detail

    @router.get(
        "/patients/{patient_id}",
        tags=["patients"],
        summary="Show a patient",
        operation_id="getPatient",
        response_model=PatientRecord,
        responses={404: NOT_FOUND},
        description="The patient, every session, every planned text and every message sent, as "
        "`reminders show --json` prints them.",
    )
    def get_patient(request: Request, client: Client, patient_id: PatientId) -> PatientRecord:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.show(patient_id), target=("path", "patient_id"))

    def patient_change(action: str, summary: str, description: str) -> None:
        operation: Callable[[Clinic, int], PatientDetail] = getattr(Clinic, action)

        def change(request: Request, client: Client, patient_id: PatientId) -> PatientDetail:
            clinic = clinic_for(request, client)
            return call(lambda: operation(clinic, patient_id), target=("path", "patient_id"))

        router.add_api_route(
            f"/patients/{{patient_id}}/{action}",
            change,
            methods=["POST"],
            tags=["patients"],
            summary=summary,
            operation_id=f"{action}Patient",
            name=f"{action}_patient",
            response_model=PatientDetail,
            responses={404: NOT_FOUND, 409: CONFLICT},
            description=description,
        )

    patient_change(
        "pause",
        "Pause a patient's texts",
        "Stop texts for now; pending texts are cancelled (reason `paused`) and come back on resume. "
        "409 unless the patient is active.",
    )
    patient_change(
        "resume",
        "Resume a patient",
        "Start texts again and lift a hold after a missed session; books the next touch-up if "
        "none is upcoming. 409 for a discharged patient.",
    )
    patient_change(
        "discharge",
        "Discharge a patient",
        "End care: future sessions and pending texts are cancelled. 409 if already discharged.",
    )

    @router.put(
        "/patients/{patient_id}/interval",
        tags=["patients"],
        summary="Set the touch-up interval",
        operation_id="setInterval",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Change the patient's touch-up interval; only the upcoming touch-up moves. "
        "422 for days outside the protocol's limits (or a protocol without touch-ups); 409 for a "
        "discharged patient.",
    )
    def set_interval(
        request: Request, client: Client, patient_id: PatientId, body: IntervalBody
    ) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.set_interval(patient_id, body.days), target=("path", "patient_id"))

    @router.put(
        "/patients/{patient_id}/phone",
        tags=["patients"],
        summary="Change the mobile number",
        operation_id="changePhone",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Give the patient a new number. A number flagged invalid is cleared and texts "
        "cancelled because of it come back. 422 for a number that cannot take texts; 409 if a patient "
        "in care already has it, or the patient has been discharged.",
    )
    def change_phone(
        request: Request, client: Client, patient_id: PatientId, body: PhoneBody
    ) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.change_phone(patient_id, body.phone), target=("path", "patient_id"))

    # -- sessions ------------------------------------------------------------------------------

    @router.post(
        "/appointments/{appointment_id}/reschedule",
        tags=["appointments"],
        summary="Move a session",
        operation_id="rescheduleAppointment",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Move a session to a new local time; its old texts are cancelled and new ones "
        "planned. Rescheduling a missed session lifts the patient's hold. 422 for a malformed or "
        "past time; 409 if the patient already has a session that day, the session is attended or "
        "cancelled, or the patient has been discharged.",
    )
    def reschedule(
        request: Request, client: Client, appointment_id: AppointmentId, body: RescheduleBody
    ) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.reschedule(appointment_id, body.when), target=("path", "appointment_id"))

    @router.post(
        "/appointments/{appointment_id}/cancel",
        tags=["appointments"],
        summary="Cancel a session",
        operation_id="cancelAppointment",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT},
        description="Cancel a scheduled or confirmed session and its texts; cancelling the upcoming "
        "touch-up books the one after. 409 for a session that is not scheduled or confirmed.",
    )
    def cancel(request: Request, client: Client, appointment_id: AppointmentId) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.cancel(appointment_id), target=("path", "appointment_id"))

    @router.post(
        "/appointments/{appointment_id}/outcome",
        tags=["appointments"],
        summary="Record whether the patient came",
        operation_id="recordOutcome",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="`attended` books the next touch-up; `missed` puts the patient on hold until "
        "staff reschedule the session or resume the patient. 409 for a session that has not "
        "started yet or was cancelled.",
    )
    def outcome(
        request: Request, client: Client, appointment_id: AppointmentId, body: OutcomeBody
    ) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.outcome(appointment_id, body.outcome), target=("path", "appointment_id"))

    api_corrections.routes(router)
    api_reports.routes(router)
    return router
