"""The enrolment form, its preview, and saving it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from scheduler.domain.protocols import DEFAULT_PROTOCOL
from scheduler.errors import InvalidInput
from scheduler.services import EnrolRequest
from scheduler.services.accounts import StaffUser
from scheduler.web.admin.common import PostedForm, Staff, clinic_of, desk_of, field, see, warn
from scheduler.web.pages import flash, page

# Zones offered on the enrolment form; any other IANA name can be typed.
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Halifax",
    "America/Toronto",
    "America/Vancouver",
    "Europe/London",
    "UTC",
)
ENROL_FIELDS = (
    "name", "phone", "timezone", "protocol", "first", "consent", "interval", "language", "external_id"
)  # fmt: skip
LANGUAGES = (("en", "English"), ("es", "Spanish (español)"))


def routes(router: APIRouter) -> None:
    def enrol_form(
        request: Request, user: StaffUser, values: dict[str, str], problems: dict[str, str], status: int
    ) -> Response:
        protocols = request.app.state.app.protocols
        return page(
            request,
            "enrol.html",
            user,
            status_code=status,
            title="Enrol a patient",
            nav="enrol",
            values=values,
            problems=problems,
            zones=COMMON_ZONES,
            protocols=[(p.id, p.name) for p in protocols.values()],
            languages=LANGUAGES,
        )

    @router.get("/enrol", response_class=HTMLResponse)
    def enrol_start(request: Request, user: Staff) -> Response:
        settings = request.app.state.settings
        values = dict.fromkeys(ENROL_FIELDS, "")
        values.update(timezone=settings.clinic_timezone, protocol=DEFAULT_PROTOCOL, language="en")
        return enrol_form(request, user, values, {}, 200)

    @router.post("/enrol/edit", response_class=HTMLResponse)
    def enrol_edit(request: Request, user: Staff, form: PostedForm) -> Response:
        return enrol_form(request, user, _values(form), {}, 200)

    @router.post("/enrol/preview", response_class=HTMLResponse)
    def enrol_preview(request: Request, user: Staff, form: PostedForm) -> Response:
        values = _values(form)
        try:
            preview = desk_of(request, user).preview_enrolment(_request(values))
        except InvalidInput as exc:
            return enrol_form(request, user, values, exc.problems, 400)
        return page(
            request,
            "enrol_preview.html",
            user,
            title="Check and save",
            nav="enrol",
            values=values,
            preview=preview,
        )

    @router.post("/enrol")
    def enrol(request: Request, user: Staff, form: PostedForm) -> Response:
        values = _values(form)
        try:
            created = clinic_of(request, user).enrol(_request(values))
        except InvalidInput as exc:
            return enrol_form(request, user, values, exc.problems, 400)
        flash(request, "Enrolled; the course and its texts are planned.")
        for warning in created.warnings:
            warn(request, warning)
        return see(f"/patients/{created.patient.id}")


def _values(form: FormData) -> dict[str, str]:
    return {name: field(form, name, 300) for name in ENROL_FIELDS}


def _request(values: dict[str, str]) -> EnrolRequest:
    return EnrolRequest(
        name=values["name"],
        phone=values["phone"],
        timezone=values["timezone"],
        protocol=values["protocol"],
        first=values["first"],
        consent=values["consent"],
        interval_days=values["interval"],
        language=values["language"],
        external_id=values["external_id"],
    )
