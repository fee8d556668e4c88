"""Patient search, a patient's course, and the changes staff make to it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scheduler.errors import InvalidInput, NotFound
from scheduler.services import Clinic
from scheduler.services.accounts import StaffUser
from scheduler.services.patient_pages import PatientList
from scheduler.services.records import Paging, PatientFilter
from scheduler.web.admin.common import PostedForm, Staff, act, clinic_of, desk_of, field, safe_next
from scheduler.web.pages import page

PAGE = 50  # patients a list page shows


def routes(router: APIRouter) -> None:
    @router.get("/patients", response_class=HTMLResponse)
    def patients(request: Request, user: Staff, q: str = "", status: str = "", offset: int = 0) -> Response:
        error = None
        found = PatientList([], 0, 0, PAGE)
        try:
            found = desk_of(request, user).find_patients(
                q[:100], status or None, Paging(PAGE, max(offset, 0))
            )
        except InvalidInput as exc:
            error = str(exc)
        return page(
            request,
            "patients.html",
            user,
            status_code=400 if error else 200,
            title="Patients",
            nav="patients",
            found=found,
            q=q[:100],
            status=status,
            statuses=tuple(PatientFilter),
            error=error,
        )

    @router.get("/patients/{patient_id}", response_class=HTMLResponse)
    def patient(request: Request, user: Staff, patient_id: int) -> Response:
        try:
            shown = desk_of(request, user).patient_page(patient_id)
        except NotFound as exc:
            return page(request, "not_found.html", user, status_code=404, title="Not found", message=str(exc))
        return page(request, "patient.html", user, title=f"Patient {shown.id}", nav="patients", p=shown)

    def patient_action(
        request: Request,
        user: StaffUser,
        patient_id: int,
        done: str,
        action: Callable[[Clinic], object],
        back_to: str = "",
    ) -> RedirectResponse:
        clinic = clinic_of(request, user)
        return act(request, back_to or f"/patients/{patient_id}", done, lambda: action(clinic))

    @router.post("/patients/{patient_id}/pause")
    def pause(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        done = "Paused: no texts until the patient is resumed."
        return patient_action(request, user, patient_id, done, lambda c: c.pause(patient_id))

    @router.post("/patients/{patient_id}/resume")
    def resume(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        done = "Resumed: texts are planned again."
        return patient_action(request, user, patient_id, done, lambda c: c.resume(patient_id))

    @router.post("/patients/{patient_id}/discharge")
    def discharge(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        done = "Discharged: upcoming sessions and texts are cancelled."
        return patient_action(request, user, patient_id, done, lambda c: c.discharge(patient_id))

    @router.post("/patients/{patient_id}/phone")
    def change_phone(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        number = field(form, "phone", 40)
        done = "Number changed; texts re-planned."
        return patient_action(request, user, patient_id, done, lambda c: c.change_phone(patient_id, number))

    @router.post("/patients/{patient_id}/interval")
    def interval(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        text = field(form, "days", 10)

        def change(clinic: Clinic) -> object:
            if not text.strip().isdigit():
                raise InvalidInput("the interval must be a whole number of days", field="days")
            return clinic.set_interval(patient_id, int(text))

        return patient_action(
            request, user, patient_id, "Touch-up interval changed; texts re-planned.", change
        )

    def session_action(
        request: Request,
        user: StaffUser,
        patient_id: int,
        appointment_id: int,
        done: str,
        action: Callable[[Clinic], object],
        back_to: str = "",
    ) -> RedirectResponse:
        desk = desk_of(request, user)

        def checked(clinic: Clinic) -> object:
            # The session must be this patient's: the page it is changed from says so.
            if desk.appointment_patient(appointment_id) != patient_id:
                raise NotFound(f"patient {patient_id} has no session with id {appointment_id}")
            return action(clinic)

        return patient_action(request, user, patient_id, done, checked, back_to)

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/reschedule")
    def reschedule(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        when = field(form, "when", 40)
        done = "Session moved; its texts are re-planned."
        return session_action(
            request, user, patient_id, appointment_id, done, lambda c: c.reschedule(appointment_id, when)
        )

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/cancel")
    def cancel(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        done = "Session cancelled; its texts are cancelled."
        return session_action(
            request, user, patient_id, appointment_id, done, lambda c: c.cancel(appointment_id)
        )

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/outcome")
    def outcome(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        result = field(form, "outcome", 20)
        done = f"Recorded as {result}; texts re-planned."
        back_to = safe_next(field(form, "next")) if field(form, "next") else ""
        return session_action(
            request,
            user,
            patient_id,
            appointment_id,
            done,
            lambda c: c.outcome(appointment_id, result),
            back_to,
        )
