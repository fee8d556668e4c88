"""The staff's web pages. Every route here but /login needs a signed-in user, and every form post
carries this session's CSRF token.

Pages read through `StaffDesk` and change things through `Clinic`, as the signed-in user, so the
audit log names them and every change re-plans the patient's texts exactly as the CLI does.
Changes answer with a redirect and a flash message (Post/Redirect/Get); a problem with the
request is shown next to the field or as a flash, never as an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from scheduler.domain.protocols import DEFAULT_PROTOCOL
from scheduler.errors import InvalidInput, NotFound
from scheduler.services import Clinic, ImportReport
from scheduler.services.accounts import Accounts, SignInRefused, StaffUser
from scheduler.services.staff import MESSAGE_STATUSES, REPLY_INTENTS, FormInvalid, StaffDesk
from scheduler.services.views import PATIENT_FILTERS
from scheduler.web.pages import flash, page
from scheduler.web.security import check_csrf, staff_user

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
ENROL_FIELDS = ("name", "phone", "timezone", "protocol", "first", "consent", "interval")
MAX_CSV_BYTES = 2 * 1024 * 1024


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token is known to be this session's (403 otherwise).

    It is a dependency, so it runs before anything else reads the request, and a post without a
    valid token is refused before any field is looked at.
    """
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return form


Staff = Annotated[StaffUser, Depends(staff_user)]
PostedForm = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, limit: int = 1000) -> str:
    """A text field of the form ('' when it is missing or a file), cut to `limit` characters."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would let a link send staff elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _clinic(request: Request, user: StaffUser) -> Clinic:
    clinic: Clinic = request.app.state.app.clinic(user.actor)
    return clinic


def _desk(request: Request, user: StaffUser) -> StaffDesk:
    return StaffDesk(_clinic(request, user))


def _problem(request: Request, message: str) -> None:
    """A flash message that says something went wrong (shown in the error style)."""
    request.session.setdefault("flashes", []).append({"error": message})


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for add in (_sign_in_pages, _today_page, _patient_pages, _enrol_pages, _message_pages, _import_pages):
        add(router)
    return router


def _sign_in_pages(router: APIRouter) -> None:
    """Signing in and out."""

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", None, title="Sign in", next=_safe_next(next), email="", error=None)

    @router.post("/login")
    async def login(request: Request, form: PostedForm) -> Response:
        email, password, target = field(form, "email", 254), field(form, "password"), field(form, "next")
        accounts: Accounts = request.app.state.accounts
        try:
            user = await run_in_threadpool(accounts.sign_in, email, password)
        except SignInRefused as exc:
            response = page(
                request,
                "login.html",
                None,
                status_code=429 if exc.retry_after else 401,
                title="Sign in",
                next=_safe_next(target),
                email=email,
                error=str(exc),
            )
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        request.session.clear()
        request.session["user_id"] = user.id
        return _see(_safe_next(target))

    @router.post("/logout")
    async def logout(request: Request, user: Staff, form: PostedForm) -> Response:
        request.session.clear()
        return _see("/login")


def _today_page(router: APIRouter) -> None:
    """Today, and marking its items handled."""

    @router.get("/", response_class=HTMLResponse)
    def today(request: Request, user: Staff) -> Response:
        return page(
            request, "today.html", user, title="Today", nav="today", today=_desk(request, user).today()
        )

    @router.post("/handled")
    def mark_handled(request: Request, user: Staff, form: PostedForm) -> Response:
        target = _safe_next(field(form, "next") or "/")
        try:
            _desk(request, user).mark_handled(field(form, "item", 80))
        except InvalidInput as exc:
            _problem(request, str(exc))
        else:
            flash(request, "Marked as handled.")
        return _see(target)


def _patient_pages(router: APIRouter) -> None:
    """Patient search, a patient's course, and the changes staff make to it."""

    @router.get("/patients", response_class=HTMLResponse)
    def patients(request: Request, user: Staff, q: str = "", status: str = "") -> Response:
        error = None
        try:
            rows = _desk(request, user).find_patients(q[:100], status or None)
        except InvalidInput as exc:
            rows, error = [], str(exc)
        return page(
            request,
            "patients.html",
            user,
            status_code=400 if error else 200,
            title="Patients",
            nav="patients",
            rows=rows,
            q=q[:100],
            status=status,
            statuses=PATIENT_FILTERS,
            error=error,
        )

    @router.get("/patients/{patient_id}", response_class=HTMLResponse)
    def patient(request: Request, user: Staff, patient_id: int) -> Response:
        try:
            shown = _desk(request, user).patient_page(patient_id)
        except NotFound as exc:
            return page(request, "not_found.html", user, status_code=404, title="Not found", message=str(exc))
        return page(request, "patient.html", user, title=f"Patient {shown.id}", nav="patients", p=shown)

    def patient_action(
        request: Request, patient_id: int, done: str, action: Callable[[], object]
    ) -> RedirectResponse:
        try:
            action()
        except InvalidInput as exc:
            _problem(request, str(exc))
        else:
            flash(request, done)
        return _see(f"/patients/{patient_id}")

    @router.post("/patients/{patient_id}/pause")
    def pause(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        clinic = _clinic(request, user)
        return patient_action(
            request,
            patient_id,
            "Paused: no texts until the patient is resumed.",
            lambda: clinic.pause(patient_id),
        )

    @router.post("/patients/{patient_id}/resume")
    def resume(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        clinic = _clinic(request, user)
        return patient_action(
            request, patient_id, "Resumed: texts are planned again.", lambda: clinic.resume(patient_id)
        )

    @router.post("/patients/{patient_id}/discharge")
    def discharge(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        clinic = _clinic(request, user)
        return patient_action(
            request,
            patient_id,
            "Discharged: upcoming sessions and texts are cancelled.",
            lambda: clinic.discharge(patient_id),
        )

    @router.post("/patients/{patient_id}/phone")
    def change_phone(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        clinic = _clinic(request, user)
        number = field(form, "phone", 40)
        return patient_action(
            request,
            patient_id,
            "Number changed; texts re-planned.",
            lambda: clinic.change_phone(patient_id, number),
        )

    @router.post("/patients/{patient_id}/interval")
    def interval(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        clinic = _clinic(request, user)

        def change() -> object:
            days = _whole_number(field(form, "days", 10), "days", "the interval")
            return clinic.set_interval(patient_id, days)

        return patient_action(request, patient_id, "Touch-up interval changed; texts re-planned.", change)

    def session_action(
        request: Request,
        user: StaffUser,
        patient_id: int,
        appointment_id: int,
        done: str,
        action: Callable[[Clinic], object],
    ) -> RedirectResponse:
        clinic = _clinic(request, user)

        def checked() -> object:
            # The session must be this patient's: the page it is changed from says so.
            if StaffDesk(clinic).appointment_patient(appointment_id) != patient_id:
                raise NotFound(f"patient {patient_id} has no session with id {appointment_id}")
            return action(clinic)

        return patient_action(request, patient_id, done, checked)

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/reschedule")
    def reschedule(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        when = field(form, "when", 40)
        return session_action(
            request,
            user,
            patient_id,
            appointment_id,
            "Session moved; its texts are re-planned.",
            lambda clinic: clinic.reschedule(appointment_id, when),
        )

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/cancel")
    def cancel(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        return session_action(
            request,
            user,
            patient_id,
            appointment_id,
            "Session cancelled; its texts are cancelled.",
            lambda clinic: clinic.cancel(appointment_id),
        )

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/outcome")
    def outcome(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        result = field(form, "outcome", 20)
        return session_action(
            request,
            user,
            patient_id,
            appointment_id,
            f"Recorded as {result}; texts re-planned.",
            lambda clinic: clinic.outcome(appointment_id, result),
        )


def _enrol_pages(router: APIRouter) -> None:
    """The enrolment form, its preview, and saving it."""

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
        )

    @router.get("/enrol", response_class=HTMLResponse)
    def enrol_start(request: Request, user: Staff) -> Response:
        settings = request.app.state.settings
        values = dict.fromkeys(ENROL_FIELDS, "")
        values.update(timezone=settings.clinic_timezone, protocol=DEFAULT_PROTOCOL)
        return enrol_form(request, user, values, {}, 200)

    @router.post("/enrol/edit", response_class=HTMLResponse)
    def enrol_edit(request: Request, user: Staff, form: PostedForm) -> Response:
        return enrol_form(request, user, _enrol_values(form), {}, 200)

    @router.post("/enrol/preview", response_class=HTMLResponse)
    def enrol_preview(request: Request, user: Staff, form: PostedForm) -> Response:
        values = _enrol_values(form)
        desk = _desk(request, user)
        try:
            preview = desk.preview_enrolment(desk.read_enrolment(values))
        except InvalidInput as exc:
            return enrol_form(request, user, values, _problems(exc), 400)
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
        values = _enrol_values(form)
        desk = _desk(request, user)
        try:
            created: dict[str, Any] = desk.clinic.enrol(desk.read_enrolment(values))
        except InvalidInput as exc:
            return enrol_form(request, user, values, _problems(exc), 400)
        patient_id = created["patient"]["id"]
        flash(request, "Enrolled; the course and its texts are planned.")
        return _see(f"/patients/{patient_id}")


def _message_pages(router: APIRouter) -> None:
    """The log of texts and replies."""

    @router.get("/messages", response_class=HTMLResponse)
    def messages(request: Request, user: Staff, show: str = "all", status: str = "", q: str = "") -> Response:
        error = None
        try:
            entries = _desk(request, user).message_log(show, status, q[:100])
        except InvalidInput as exc:
            entries, error = [], str(exc)
        return page(
            request,
            "messages.html",
            user,
            status_code=400 if error else 200,
            title="Messages",
            nav="messages",
            entries=entries,
            show=show,
            status=status,
            q=q[:100],
            message_statuses=MESSAGE_STATUSES,
            reply_intents=REPLY_INTENTS,
            error=error,
        )


def _import_pages(router: APIRouter) -> None:
    """CSV import with a per-row report."""

    @router.get("/import", response_class=HTMLResponse)
    def import_start(request: Request, user: Staff) -> Response:
        return page(request, "import.html", user, title="Import", nav="import", report=None, dry_run=False)

    @router.post("/import", response_class=HTMLResponse)
    async def import_csv(request: Request, user: Staff, form: PostedForm) -> Response:
        dry_run = field(form, "dry_run") == "yes"
        text, problem = await _csv_text(form)
        report = ImportReport()
        if problem is None:
            report = await run_in_threadpool(_clinic(request, user).import_csv, text, dry_run=dry_run)
        if problem is None and report.ok and not dry_run:
            flash(request, f"Imported {len(report.patient_ids)} patient(s); their courses are planned.")
            return _see("/patients")
        return page(
            request,
            "import.html",
            user,
            status_code=200 if problem is None and report.ok else 400,
            title="Import",
            nav="import",
            report=report,
            problem=problem,
            dry_run=dry_run,
        )


def _enrol_values(form: FormData) -> dict[str, str]:
    return {name: field(form, name, 300) for name in ENROL_FIELDS}


def _problems(exc: InvalidInput) -> dict[str, str]:
    """What to show next to each field of a form the service refused."""
    return exc.problems if isinstance(exc, FormInvalid) else {exc.field or "form": str(exc)}


def _whole_number(text: str, name: str, what: str) -> int:
    if not text.strip().isdigit():
        raise FormInvalid({name: f"{what} must be a whole number of days"})
    return int(text)


async def _csv_text(form: FormData) -> tuple[str, str | None]:
    """The CSV the form carries (an uploaded file, else the pasted text), or a problem."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            return "", f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB"
        try:
            return data.decode("utf-8-sig"), None
        except UnicodeDecodeError:
            return "", "the file is not UTF-8 text; save it as CSV (UTF-8)"
    pasted = field(form, "text", MAX_CSV_BYTES)
    if not pasted.strip():
        return "", "choose a CSV file or paste its contents"
    return pasted, None
