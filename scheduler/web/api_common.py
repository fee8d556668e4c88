"""What every API route shares: the token check, path parameters, documented error answers, and
the translation of service errors into 404, 409 and 422 answers that name the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.services import Clinic
from scheduler.web.api_models import ErrorList
from scheduler.web.security import api_client

T = TypeVar("T")
Loc = tuple[str, ...]

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

NOT_FOUND = {"model": ErrorList, "description": "No patient or session with that id."}
CONFLICT = {
    "model": ErrorList,
    "description": "The request clashes with what is stored (e.g. a patient or session whose state "
    "does not allow the change); nothing was written.",
}
INVALID = {
    "model": ErrorList,
    "description": "A field is missing, of the wrong type, or refused; `loc` names it. Nothing was written.",
}


def clinic_for(request: Request, client: str) -> Clinic:
    clinic: Clinic = request.app.state.app.clinic(f"api:{client}")
    return clinic


def _error(status: int, loc: Loc, exc: InvalidInput, kind: str) -> HTTPException:
    existing = exc.existing if isinstance(exc, Conflict) else None
    # A clash with a patient points at them, so that a client retrying an enrolment can carry on.
    headers = None if existing is None else {"Location": f"{PREFIX}/patients/{existing}"}
    return HTTPException(
        status_code=status, detail=[{"loc": list(loc), "msg": str(exc), "type": kind}], headers=headers
    )


def call(operation: Callable[[], T], *, target: Loc, fields: Mapping[str, Loc] | None = None) -> T:
    """Run a service operation, turning its errors into 404, 409 or 422 answers.

    `target` is where a problem without a field points: the path parameter naming the record.
    `fields` maps the service's field names onto request locations (default `("body", field)`).
    """
    try:
        return operation()
    except NotFound as exc:
        raise _error(404, target, exc, "not_found") from None
    except InvalidInput as exc:
        loc = target if exc.field is None else (fields or {}).get(exc.field, ("body", exc.field))
        if isinstance(exc, Conflict) or exc.field is None:
            raise _error(409, loc, exc, "conflict") from None
        detail = [
            {"loc": list((fields or {}).get(name, ("body", name))), "msg": message, "type": "value_error"}
            for name, message in exc.problems.items()
        ]
        raise HTTPException(status_code=422, detail=detail) from None
