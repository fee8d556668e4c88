"""What every API route shares: the token check, path parameters, documented error answers, and
the translation of service errors into 404, 409 and 422 answers that name the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scheduler.errors import FORM, Conflict, InvalidInput, NotFound
from scheduler.services import Clinic
from scheduler.web.api_problems import ApiProblem, field_problem, invalid, problem_doc
from scheduler.web.security import api_client

T = TypeVar("T")
Loc = tuple[str, str]

PREFIX = "/api/v1"

# Documents the scheme in /openapi.json; `api_client` does the checking (auto_error=False so a
# missing header gets the same 401 as a wrong token).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `reminders tokens add NAME`, sent as `Authorization: Bearer <token>`.",
)


def authenticated(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    """The name of the caller's API token; 401 otherwise."""
    return api_client(request)


Client = Annotated[str, Depends(authenticated)]
# Ids are 32-bit integers in the database; a larger number cannot name a record (and would not fit).
MAX_ID = 2**31 - 1
PatientId = Annotated[int, Path(description="The patient's id.", ge=1, le=MAX_ID)]
AppointmentId = Annotated[int, Path(description="The session's id (`appointments[].id`).", ge=1, le=MAX_ID)]

NOT_FOUND = problem_doc("No patient or session with that id.")
CONFLICT = problem_doc(
    "The request clashes with what is stored (e.g. a patient or session whose state does not allow "
    "the change); nothing was written."
)
INVALID = problem_doc(
    "Fields are missing, of the wrong type, or refused; `errors` names every one. Nothing was written."
)


def clinic_for(request: Request, client: str) -> Clinic:
    clinic: Clinic = request.app.state.app.clinic(f"api:{client}")
    return clinic


def _conflict(exc: InvalidInput, fields: Mapping[str, Loc] | None) -> ApiProblem:
    existing = exc.existing if isinstance(exc, Conflict) else None
    # A clash with a patient points at them, so that a client retrying an enrolment can carry on.
    headers = None if existing is None else {"Location": f"{PREFIX}/patients/{existing}"}
    clash = (
        []
        if exc.field is None
        else [field_problem(*(fields or {}).get(exc.field, ("body", exc.field)), str(exc), "conflict")]
    )
    return ApiProblem(409, str(exc), errors=clash, patient_id=existing, headers=headers)


def call(operation: Callable[[], T], *, fields: Mapping[str, Loc] | None = None) -> T:
    """Run a service operation, turning its errors into problems: 404 for a record that does not
    exist, 409 for a clash with what is stored, 422 naming every field that is wrong.

    `fields` maps the service's field names onto request locations (default `("body", field)`).
    """
    try:
        return operation()
    except NotFound as exc:
        raise ApiProblem(404, str(exc)) from None
    except InvalidInput as exc:
        if isinstance(exc, Conflict) or exc.field is None:
            raise _conflict(exc, fields) from None
        raise invalid(
            [
                field_problem(*(fields or {}).get(name, ("body", "" if name == FORM else name)), message)
                for name, message in exc.problems.items()
            ]
        ) from None
