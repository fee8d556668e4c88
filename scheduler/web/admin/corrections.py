"""Correcting a patient: the edit form, its preview and saving it; adding a session and restoring
a cancelled one; and the confirmation pages that stand between a click and cancelling a session
or discharging a patient (plain pages, so they work without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from scheduler.errors import InvalidInput, NotFound
from scheduler.services.accounts import StaffUser
from scheduler.services.edits import EditRequest
from scheduler.services.patient_pages import PatientPage
from scheduler.web.admin.common import PostedForm, Staff, act, clinic_of, desk_of, field, see, warn
from scheduler.web.admin.enrol import COMMON_ZONES, LANGUAGES
from scheduler.web.pages import flash, page

EDIT_FIELDS = ("name", "timezone", "consent", "external_id", "language", "protocol", "from")


def routes(router: APIRouter) -> None:
    def shown(request: Request, user: StaffUser, patient_id: int) -> PatientPage | Response:
        try:
            return desk_of(request, user).patient_page(patient_id)
        except NotFound as exc:
            return page(request, "not_found.html", user, status_code=404, title="Not found", message=str(exc))

    def edit_form(
        request: Request, user: StaffUser, p: PatientPage, values: dict[str, str], problems: dict[str, str],
        status: int = 200,
    ) -> Response:  # fmt: skip
        protocols = request.app.state.app.protocols
        return page(
            request, "patient_edit.html", user, status_code=status, title=f"Edit patient {p.id}",
            nav="patients", p=p, values=values, problems=problems, zones=COMMON_ZONES, languages=LANGUAGES,
            protocols=[(x.id, x.name) for x in protocols.values()],
        )  # fmt: skip

    @router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
    def edit_start(request: Request, user: Staff, patient_id: int) -> Response:
        p = shown(request, user, patient_id)
        if isinstance(p, Response):
            return p
        values = {
            "name": p.name, "timezone": p.timezone, "consent": p.consent, "external_id": p.external_id or "",
            "language": p.language, "protocol": p.protocol, "from": "",
        }  # fmt: skip
        return edit_form(request, user, p, values, {})

    @router.post("/patients/{patient_id}/edit/preview", response_class=HTMLResponse)
    def edit_preview(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        p = shown(request, user, patient_id)
        if isinstance(p, Response):
            return p
        values = _values(form)
        try:
            planned = clinic_of(request, user).edit(patient_id, _request(p, values), preview=True)
        except InvalidInput as exc:
            return edit_form(request, user, p, values, exc.problems, 400)
        after = desk_of(request, user).enrol_preview(planned)
        return page(
            request, "patient_edit_preview.html", user, title="Check and save", nav="patients", p=p,
            after=after, values=values, changes=_changes(p, values), warnings=planned.warnings,
        )  # fmt: skip

    @router.post("/patients/{patient_id}/edit", response_class=HTMLResponse)
    def edit_save(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        p = shown(request, user, patient_id)
        if isinstance(p, Response):
            return p
        values = _values(form)
        if field(form, "back") == "yes":
            return edit_form(request, user, p, values, {})
        try:
            saved = clinic_of(request, user).edit(patient_id, _request(p, values))
        except InvalidInput as exc:
            return edit_form(request, user, p, values, exc.problems, 400)
        flash(request, "Saved; the texts ahead are re-planned.")
        for warning in saved.warnings:
            warn(request, warning)
        return see(f"/patients/{patient_id}")

    @router.post("/patients/{patient_id}/sessions")
    def add_session(request: Request, user: Staff, form: PostedForm, patient_id: int) -> Response:
        when = field(form, "when", 40)
        done = "Session added; the patient will be told of it."
        clinic = clinic_of(request, user)
        return act(request, f"/patients/{patient_id}", done, lambda: clinic.add_session(patient_id, when))

    @router.post("/patients/{patient_id}/sessions/{appointment_id}/restore")
    def restore(
        request: Request, user: Staff, form: PostedForm, patient_id: int, appointment_id: int
    ) -> Response:
        desk, clinic = desk_of(request, user), clinic_of(request, user)

        def restored() -> object:
            if desk.appointment_patient(appointment_id) != patient_id:
                raise NotFound(f"patient {patient_id} has no session with id {appointment_id}")
            return clinic.restore(appointment_id)

        return act(
            request, f"/patients/{patient_id}", "Session restored; its texts are planned again.", restored
        )

    @router.get("/patients/{patient_id}/sessions/{appointment_id}/cancel", response_class=HTMLResponse)
    def cancel_confirm(request: Request, user: Staff, patient_id: int, appointment_id: int) -> Response:
        p = shown(request, user, patient_id)
        if isinstance(p, Response):
            return p
        session = next((s for s in p.sessions if s.id == appointment_id and s.can_cancel), None)
        if session is None:
            flash(request, "That session cannot be cancelled.")
            return see(f"/patients/{patient_id}")
        told = any(t.status in ("sent", "delivered") for t in session.texts)
        return page(
            request, "confirm.html", user, title="Cancel this session?", nav="patients", p=p,
            question=f"Cancel {session.label} for {p.name}?", when=session.when,
            consequences=[
                "Its texts not yet sent are cancelled.",
                "The patient is told by text." if told else "The patient has had no text about it.",
                "A cancelled session can be restored while it is still ahead.",
            ],
            action=f"/patients/{patient_id}/sessions/{appointment_id}/cancel", confirm="Cancel the session",
            keep="Keep it",
        )  # fmt: skip

    @router.get("/patients/{patient_id}/discharge", response_class=HTMLResponse)
    def discharge_confirm(request: Request, user: Staff, patient_id: int) -> Response:
        p = shown(request, user, patient_id)
        if isinstance(p, Response):
            return p
        if not p.can_discharge:
            flash(request, "This patient cannot be discharged.")
            return see(f"/patients/{patient_id}")
        ahead = [s for s in p.sessions if s.can_cancel]
        return page(
            request, "confirm.html", user, title="Discharge this patient?", nav="patients", p=p,
            question=f"Discharge {p.name}?", when=None,
            consequences=[
                f"Ends care: {len(ahead)} session(s) ahead are cancelled.",
                "Every text not yet sent is cancelled, and no more are planned.",
                "The patient stays in the records; they can be enrolled again later.",
            ],
            action=f"/patients/{patient_id}/discharge", confirm="Discharge", keep="Keep in care",
        )  # fmt: skip


def _values(form: FormData) -> dict[str, str]:
    return {name: field(form, name, 300) for name in EDIT_FIELDS}


def _request(p: PatientPage, values: dict[str, str]) -> EditRequest:
    """Only what differs from the record: the form shows every field, filled in."""

    def changed(name: str, current: str) -> str | None:
        value = values[name]
        return value if value.strip() != current else None

    new_protocol = changed("protocol", p.protocol)
    return EditRequest(
        name=changed("name", p.name),
        timezone=changed("timezone", p.timezone),
        consent=changed("consent", p.consent),
        external_id=changed("external_id", p.external_id or ""),
        language=changed("language", p.language),
        protocol=new_protocol,
        start=values["from"] or None,
    )


def _changes(p: PatientPage, values: dict[str, str]) -> list[tuple[str, str, str]]:
    """(what, before, after) for each field the form changes."""
    rows = []
    for label, name, current in (
        ("Name", "name", p.name),
        ("Time zone", "timezone", p.timezone),
        ("Consent", "consent", p.consent),
        ("Record number", "external_id", p.external_id or ""),
        ("Texts in", "language", p.language),
        ("Protocol", "protocol", p.protocol),
    ):
        if values[name].strip() != current:
            rows.append((label, current or "—", values[name].strip() or "—"))
    return rows
