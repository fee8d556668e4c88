"""What every request and response goes through: limits on what a request may carry, checked before
anything parses it, and the security headers every answer carries.

Limits (413 when a body is larger, 415 when it is of a kind the path does not take) apply while
the body streams in, so an oversized upload is refused without being spooled to disk first.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from scheduler.web.api_problems import PROBLEM_JSON, problem_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
# The CSV import page states this limit; its form adds a few fields around the file.
CSV_IMPORT_BYTES = 2 * KIB * KIB
# An enrolment is well under 1 KiB.
API_BODY_BYTES = 64 * KIB

# No script anywhere: pages are server-rendered HTML with one stylesheet of our own.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Limit:
    prefix: str
    types: tuple[str, ...]
    max_bytes: int


# The first whose prefix matches the path applies; the last catches every other form.
LIMITS = (
    Limit("/twilio/", (FORM,), 64 * KIB),
    Limit("/api/", (JSON,), API_BODY_BYTES),
    Limit("/import", (MULTIPART, FORM), CSV_IMPORT_BYTES + 64 * KIB),
    Limit("/", (FORM,), 64 * KIB),
)


class _TooLarge(Exception):
    pass


class RequestLimits:
    """Refuses request bodies of the wrong kind (415) or too large (413) before they are parsed."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = next(rule for rule in LIMITS if scope["path"].startswith(rule.prefix))
        headers = {name.lower(): value for name, value in scope["headers"]}
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().decode("latin-1").lower()
        declared = headers.get(b"content-length", b"")
        has_body = declared not in (b"", b"0") or b"transfer-encoding" in headers
        api = scope["path"].startswith("/api/")
        if has_body and kind not in limit.types:
            await _answer(
                send, 415, f"this path takes {' or '.join(limit.types)}", api=api, path=scope["path"]
            )
            return
        if not declared.isdigit() and declared:
            await _answer(send, 400, "Content-Length is not a number", api=api, path=scope["path"])
            return
        too_big = f"the request body is larger than {limit.max_bytes // KIB} KiB"
        if declared and int(declared) > limit.max_bytes:
            await _answer(send, 413, too_big, api=api, path=scope["path"])
            return
        seen = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def unless_refused(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app made of a body cut short, the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except _TooLarge:
            pass
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _answer(send, 413, too_big, api=api, path=scope["path"])


class SecurityHeaders:
    """Adds the security headers to every response; nothing that may show patient data is cached."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cache-control", b"public, max-age=3600" if static else b"no-store"),
                ]
                headers += [(name, value) for name, value in wanted if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _answer(send: Send, status: int, text: str, *, api: bool, path: str = "") -> None:
    """A refusal: a problem document (RFC 9457) on the API, plain text elsewhere."""
    if api:
        body = json.dumps(problem_body(status, text, path)).encode()
        kind = PROBLEM_JSON.encode()
    else:
        body, kind = f"{text[0].upper()}{text[1:]}.".encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
