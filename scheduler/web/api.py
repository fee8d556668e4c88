"""The JSON API for clinics that connect an EHR: the CLI's operations, behind bearer tokens.

Every route needs `Authorization: Bearer <token>` (`reminders tokens add NAME`); the token's name is
the actor in the audit log (`api:NAME`). Answers have the shapes the CLI prints with `--json`.

Every error is a problem document (RFC 9457, `application/problem+json`, `scheduler.web.api_problems`)
naming every field that is wrong at once, never the value sent; nothing is written when a request
fails. 400 for a body that is not JSON, 401 without a live token, 404 for a record that does not
exist, 405, 409 for a clash with what is stored (a patient who already has this phone number or
record number: `patient_id` and `Location` point at them), 413, 415 for a body that is not JSON,
422 for fields that are wrong, 429 past the token's rate (`Retry-After`), 500 with a request id.
POSTs honour `Idempotency-Key` (`scheduler.web.api_idempotency`); lists page with cursors
(`scheduler.web.api_paging`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime

from scheduler.services import Clinic, EnrolRequest
from scheduler.services.records import PatientFilter, PatientQuery
from scheduler.services.results import PatientDetail, PatientRecord, ReplyView
from scheduler.web import api_corrections, api_events, api_reports
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
    IntervalBody,
    OutcomeBody,
    PhoneBody,
    RescheduleBody,
)
from scheduler.web.api_paging import DEFAULT_LIMIT, MAX_LIMIT, PatientPage, decode, encode, next_link
from scheduler.web.api_problems import problem_doc


def api_router() -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        # On the router, so that no route can be added without the token check.
        dependencies=[Depends(authenticated)],
        responses={
            401: problem_doc("No token, or not a live one."),
            429: problem_doc("Past this token's rate; `Retry-After` says when to try again."),
        },
    )

    # -- patients ------------------------------------------------------------------------------

    @router.get(
        "/patients",
        tags=["patients"],
        summary="List patients",
        operation_id="listPatients",
        response_model=PatientPage,
        responses={422: INVALID},
        description="Patients in id order, a page at a time: follow `next` (or pass `next_cursor` "
        "as `cursor`) until it is null. Filters combine; `updated_since` finds the patients whose "
        "record or any of whose sessions changed after that instant.",
    )
    def list_patients(
        request: Request,
        client: Client,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Patients per page.")] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=200, description="From a previous page.")] = None,
        status: Annotated[
            PatientFilter | None,
            Query(description="Only patients with this status; `attention`: those staff need to act on."),
        ] = None,
        external_id: Annotated[
            str | None, Query(max_length=64, description="The clinic's record number, exactly.")
        ] = None,
        phone: Annotated[
            str | None, Query(max_length=40, description="A mobile number, E.164 or national.")
        ] = None,
        updated_since: Annotated[
            AwareDatetime | None,
            Query(description="An ISO 8601 instant with its offset, e.g. `2026-03-09T10:00:00Z`."),
        ] = None,
        q: Annotated[
            str,
            Query(max_length=100, description="A name, a record number, or a phone number typed any way."),
        ] = "",
    ) -> PatientPage:
        clinic = clinic_for(request, client)
        query = PatientQuery(
            limit=limit,
            after=decode("p", cursor),
            status=status,
            search=q,
            external_id=external_id,
            phone=phone,
            updated_since=updated_since,
        )
        items, more = call(
            lambda: clinic.patient_page(query),
            fields={name: ("query", name) for name in ("status", "phone", "updated_since", "limit")},
        )
        following = encode("p", items[-1].id) if more and items else None
        return PatientPage(items=items, next_cursor=following, next=next_link(request, following))

    @router.post(
        "/patients",
        tags=["patients"],
        summary="Enrol a patient",
        operation_id="enrolPatient",
        status_code=201,
        response_model=PatientDetail,
        responses={
            409: problem_doc(
                "A patient in care already has this phone number, or a patient this record number: "
                "`patient_id` and `Location` point at them."
            ),
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
        detail = call(lambda: clinic.enrol(enrolment), fields={"interval": ("body", "interval_days")})
        response.headers["Location"] = f"{PREFIX}/patients/{detail.patient.id}"
        return detail

    @router.get(
        "/patients/{patient_id}",
        tags=["patients"],
        summary="Show a patient",
        operation_id="getPatient",
        response_model=PatientRecord,
        responses={404: NOT_FOUND, 422: INVALID},
        description="The patient, every session, every planned text and every message sent, as "
        "`reminders show --json` prints them.",
    )
    def get_patient(request: Request, client: Client, patient_id: PatientId) -> PatientRecord:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.show(patient_id))

    @router.get(
        "/patients/{patient_id}/replies",
        tags=["patients"],
        summary="A patient's replies",
        operation_id="listReplies",
        response_model=list[ReplyView],
        responses={404: NOT_FOUND, 422: INVALID},
        description="Every text the patient sent, newest first: confirmations (C), change requests "
        "(R), opt-outs and other words, whether each read as urgent, and what the service answered.",
    )
    def list_replies(request: Request, client: Client, patient_id: PatientId) -> list[ReplyView]:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.replies(patient_id))

    def patient_change(action: str, summary: str, description: str) -> None:
        operation: Callable[[Clinic, int], PatientDetail] = getattr(Clinic, action)

        def change(request: Request, client: Client, patient_id: PatientId) -> PatientDetail:
            clinic = clinic_for(request, client)
            return call(lambda: operation(clinic, patient_id))

        router.add_api_route(
            f"/patients/{{patient_id}}/{action}",
            change,
            methods=["POST"],
            tags=["patients"],
            summary=summary,
            operation_id=f"{action}Patient",
            name=f"{action}_patient",
            response_model=PatientDetail,
            responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
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
        return call(lambda: clinic.set_interval(patient_id, body.days))

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
        return call(lambda: clinic.change_phone(patient_id, body.phone))

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
        return call(lambda: clinic.reschedule(appointment_id, body.when))

    @router.post(
        "/appointments/{appointment_id}/cancel",
        tags=["appointments"],
        summary="Cancel a session",
        operation_id="cancelAppointment",
        response_model=PatientDetail,
        responses={404: NOT_FOUND, 409: CONFLICT, 422: INVALID},
        description="Cancel a scheduled or confirmed session and its texts; cancelling the upcoming "
        "touch-up books the one after. 409 for a session that is not scheduled or confirmed.",
    )
    def cancel(request: Request, client: Client, appointment_id: AppointmentId) -> PatientDetail:
        clinic = clinic_for(request, client)
        return call(lambda: clinic.cancel(appointment_id))

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
        return call(lambda: clinic.outcome(appointment_id, body.outcome))

    api_corrections.routes(router)
    api_events.routes(router)
    api_reports.routes(router)
    return router
