"""What every request passes through: a request id, and answers to errors that never quote what
was sent or what the database said (`protection.RequestLimits` limits the bodies).

- Every answer carries `X-Request-ID`; an unexpected error is logged with that id and the error's
  type only (a database error's text quotes the values, a phone number say), and answered with a
  JSON 500 naming the id, so staff can find the line.
- A 422 names each field and what is wrong with it, never the value (FastAPI's own answer echoes
  the input back, however large, and with it names and numbers).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("scheduler.web")


class Guard:
    """Pure ASGI middleware (it must see exceptions before Starlette's error middleware, which
    would log them with their text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The type only: never the message, never the statement or its parameters.
            log.error("request %s (%s %s) failed: %s", request_id, scope.get("method"), scope.get("path"),
                      type(exc).__name__)  # fmt: skip
            if not started:
                detail = f"internal error; the service log names it as request {request_id}"
                path = str(scope.get("path", ""))
                if path.startswith("/api/"):
                    from scheduler.web.api_problems import problem_response

                    answer = problem_response(500, detail, path)
                else:
                    answer = JSONResponse({"detail": detail}, status_code=500)
                await answer(scope, receive, send_with_id)


def _printable(value: Any) -> Any:
    """`value` with unpaired surrogates escaped (`\\ud800`), so that it can be encoded as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each validation error as where and what, without the `input` and `ctx` that echo the value."""
    return [
        {
            "loc": [_printable(part) for part in error.get("loc", ())],
            "msg": _printable(str(error.get("msg", ""))),
            "type": str(error.get("type", "value_error")),
        }
        for error in errors
    ]


async def validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": field_errors(exc.errors())}, status_code=422)
