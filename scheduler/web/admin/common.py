"""What every staff page shares: the signed-in user, CSRF-checked forms, flashes and redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from scheduler.errors import InvalidInput
from scheduler.services import Clinic
from scheduler.services.accounts import StaffUser
from scheduler.services.staff import StaffDesk
from scheduler.web.pages import flash
from scheduler.web.security import check_csrf, staff_user


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token is known to be this session's (403 otherwise).

    It is a dependency, so it runs before anything else reads the request, and a post without a
    valid token is refused before any field is looked at.
    """
    # One file at most (the CSV import's); RequestLimits has already capped the body's size.
    form = await request.form(max_files=1, max_fields=50)
    check_csrf(request, form.get("csrf"))
    return form


Staff = Annotated[StaffUser, Depends(staff_user)]
PostedForm = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, limit: int = 1000) -> str:
    """A text field of the form ('' when it is missing or a file), cut to `limit` characters."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would let a link send staff elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"


def clinic_of(request: Request, user: StaffUser) -> Clinic:
    clinic: Clinic = request.app.state.app.clinic(user.actor)
    return clinic


def desk_of(request: Request, user: StaffUser) -> StaffDesk:
    desk: StaffDesk = request.app.state.app.desk(user.actor)
    return desk


def problem(request: Request, message: str) -> None:
    """A flash message that says something went wrong (shown in the error style)."""
    request.session.setdefault("flashes", []).append({"error": message})


def warn(request: Request, message: str) -> None:
    """A flash message that says a change was made but is worth a second look."""
    request.session.setdefault("flashes", []).append({"warning": message})


def see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def act(request: Request, back_to: str, done: str, action: Callable[[], object]) -> RedirectResponse:
    """Carry out a change and go back to `back_to` with a flash saying how it went (Post/Redirect/Get)."""
    try:
        result = action()
    except InvalidInput as exc:
        problem(request, str(exc))
    else:
        flash(request, done)
        for warning in getattr(result, "warnings", ()):
            warn(request, warning)
    return see(back_to)
