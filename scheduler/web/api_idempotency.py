"""`Idempotency-Key` on the API's POSTs, as ASGI middleware around the routes.

The first request with a key is answered as usual and its answer kept (`services.idempotency`);
the same key with the same request (method, path, query and body) gets that answer again, with
`Idempotent-Replayed: true`, and nothing is done twice. The same key with a different request is
a 422; a retry while the first is still being answered a 409 with `Retry-After`. Keys belong to
the token that sent them. Answers of 401, 429 and 5xx are not kept: the retry runs afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from scheduler.services.idempotency import Answer, Found, IdempotencyKeys
from scheduler.web.api_problems import field_problem, problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = "idempotency-key"
MAX_KEY = 255
KEPT_HEADERS = ("content-type", "location")
NOT_KEPT = frozenset({401, 429})


def client_of(headers: Headers) -> str:
    """Whose key it is: a hash of the Authorization header (a token is never stored)."""
    return hashlib.sha256(headers.get("authorization", "").encode("latin-1")).hexdigest()


def _fingerprint(scope: Scope, headers: Headers, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                 headers.get("content-type", "")):  # fmt: skip
        digest.update(part.encode("latin-1") + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class Idempotency:
    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not 1 <= len(key) <= MAX_KEY or not (key.isascii() and key.isprintable()):
            problem = field_problem("header", "Idempotency-Key", f"1 to {MAX_KEY} printable ASCII characters")
            await problem_response(422, "1 field is wrong", path, errors=[problem])(scope, receive, send)
            return
        body = await _body(receive)
        keys: IdempotencyKeys = scope["app"].state.idempotency
        client = client_of(headers)
        found, answer = await run_in_threadpool(keys.begin, client, key, _fingerprint(scope, headers, body))
        if found is Found.OTHER_REQUEST:
            detail = "this Idempotency-Key was used with a different request; use a new key for a new request"
            problem = field_problem("header", "Idempotency-Key", detail, "idempotency_key_reused")
            await problem_response(422, detail, path, errors=[problem])(scope, receive, send)
            return
        if found is Found.IN_PROGRESS:
            detail = "a request with this Idempotency-Key is still being answered; try again shortly"
            await problem_response(409, detail, path, headers={"Retry-After": "1"})(scope, receive, send)
            return
        if answer is not None:
            await _replay(answer, send)
            return
        await self._first(scope, body, send, keys, client, key)

    async def _first(
        self, scope: Scope, body: bytes, send: Send, keys: IdempotencyKeys, client: str, key: str
    ) -> None:
        sent = False

        async def once() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, kept, chunks = 500, {}, []

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                found = Headers(raw=message.get("headers", []))
                kept.update({name: found[name] for name in KEPT_HEADERS if name in found})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, once, recording)
        except BaseException:
            await run_in_threadpool(keys.forget, client, key)
            raise
        if status >= 500 or status in NOT_KEPT:
            await run_in_threadpool(keys.forget, client, key)
        else:
            await run_in_threadpool(keys.finish, client, key, Answer(status, kept, b"".join(chunks)))


async def _replay(answer: Answer, send: Send) -> None:
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()]
    raw += [(b"content-length", str(len(answer.body)).encode()), (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": raw})
    await send({"type": "http.response.body", "body": answer.body})
