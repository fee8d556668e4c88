"""Every error of the JSON API as one shape: RFC 9457 problem details (`application/problem+json`).

```json
{"type": "urn:reminders:problem:validation", "title": "Invalid request", "status": 422,
 "detail": "2 fields are wrong", "instance": "/api/v1/patients",
 "errors": [{"location": "body", "field": "phone", "pointer": "/phone", "detail": "..."}]}
```

`type` tells a client what went wrong without reading prose; `errors` lists every field problem
at once (where, and what is wrong with it), never the value that was sent. A conflict with an
existing patient names them in `patient_id` and in a `Location` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler.web.guard import field_errors, validation_failed

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"

Location = Literal["body", "query", "path", "header"]

# status -> (type slug, title)
KINDS: dict[int, tuple[str, str]] = {
    400: ("malformed", "Malformed request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
}


def problem_type(status: int) -> str:
    return f"urn:reminders:problem:{KINDS.get(status, ('error', ''))[0]}"


class FieldProblem(BaseModel):
    location: Location = Field(description="Which part of the request: body, query, path or header.")
    field: str = Field(description="The field or parameter, dotted for nested ones.", examples=["phone"])
    pointer: str = Field(
        description="JSON Pointer (RFC 6901) into the request body; empty outside the body.",
        examples=["/phone"],
    )
    detail: str = Field(examples=["not a mobile number that can take texts"])
    code: str = Field(
        description="What kind of field problem: `missing`, `extra_forbidden`, `int_type`, `enum`, "
        "`value_error` (refused by the clinic's rules), ...",
        examples=["value_error"],
    )


class Problem(BaseModel):
    """RFC 9457 problem details: the shape of every error answer."""

    type: str = Field(
        description="What kind of problem, as a URN.", examples=["urn:reminders:problem:validation"]
    )
    title: str = Field(description="A short summary of the kind.", examples=["Invalid request"])
    status: int = Field(description="The HTTP status code.", examples=[422])
    detail: str = Field(description="What went wrong with this request.", examples=["1 field is wrong"])
    instance: str = Field(description="The path that was requested.", examples=["/api/v1/patients"])
    errors: list[FieldProblem] = Field(default_factory=list, description="Every field problem at once.")
    patient_id: int | None = Field(
        default=None, description="For a conflict with an existing patient: that patient's id."
    )


class ApiProblem(Exception):
    """Raised by API routes; answered as a `Problem`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldProblem] = (),
        patient_id: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, list(errors)
        self.patient_id, self.headers = patient_id, dict(headers or {})


def field_problem(location: str, field: str, detail: str, code: str = "value_error") -> FieldProblem:
    where: Location = location if location in ("body", "query", "path", "header") else "body"  # type: ignore[assignment]
    return FieldProblem(
        location=where,
        field=field,
        pointer="/" + field.replace("~", "~0").replace(".", "/") if where == "body" and field else "",
        detail=detail,
        code=code,
    )


def problem_body(
    status: int,
    detail: str,
    instance: str,
    errors: Iterable[FieldProblem] = (),
    patient_id: int | None = None,
) -> dict[str, Any]:
    problem = Problem(
        type=problem_type(status),
        title=KINDS.get(status, ("error", "Error"))[1],
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors),
        patient_id=patient_id,
    )
    return problem.model_dump(mode="json", exclude_none=True)


def problem_response(
    status: int,
    detail: str,
    instance: str,
    *,
    errors: Iterable[FieldProblem] = (),
    patient_id: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, instance, errors, patient_id),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _counted(errors: Sequence[FieldProblem]) -> str:
    return "1 field is wrong" if len(errors) == 1 else f"{len(errors)} fields are wrong"


def _validation_problems(raw: Sequence[Any]) -> list[FieldProblem]:
    problems = []
    for error in field_errors(raw):
        loc = [str(part) for part in error["loc"]]
        location, path = (loc[0], loc[1:]) if loc else ("body", [])
        problems.append(field_problem(location, ".".join(path), error["msg"], error["type"]))
    return problems


def install(web: FastAPI) -> None:
    """Answer errors on `/api/` paths as problems; the admin pages keep their own answers."""
    from fastapi.exception_handlers import http_exception_handler

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return problem_response(
            exc.status,
            exc.detail,
            request.url.path,
            errors=exc.errors,
            patient_id=exc.patient_id,
            headers=exc.headers,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not is_api(request):
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) else KINDS.get(exc.status_code, ("", "Error"))[1]
        if exc.status_code == 404 and detail == "Not Found":
            detail = "there is nothing at this path"
        elif exc.status_code == 405:
            detail = "this path does not take this method"
        return problem_response(exc.status_code, detail, request.url.path, headers=exc.headers)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not is_api(request):
            return await validation_failed(request, exc)
        raw = exc.errors()
        if any(error.get("type") == "json_invalid" for error in raw):
            return problem_response(400, "the request body is not valid JSON", request.url.path)
        problems = _validation_problems(raw)
        return problem_response(422, _counted(problems), request.url.path, errors=problems)

    web.add_exception_handler(ApiProblem, on_problem)
    web.add_exception_handler(StarletteHTTPException, on_http)
    web.add_exception_handler(RequestValidationError, on_invalid)


def invalid(problems: Sequence[FieldProblem]) -> ApiProblem:
    return ApiProblem(422, _counted(problems), errors=problems)


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry answered with the problem shape."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {"model": Problem, "description": description, "content": {PROBLEM_JSON: schema}}
