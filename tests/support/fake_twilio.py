"""A fake Twilio Messages API on loopback, stricter than Twilio, for tests that drive real twilio-python."""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import eq, ge, le
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from scheduler.clock import Clock, SystemClock

# The Messages resource of Twilio's published OpenAPI document (see twilio_openapi/README.md).
OPENAPI_PATH = Path(__file__).resolve().parent / "twilio_openapi" / "messages.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


def load_fields(path: Path = OPENAPI_PATH) -> tuple[frozenset[str], frozenset[str]]:
    """The form fields Twilio's document lists for creating a message, and the query parameters
    for listing messages. Fails loudly: a fake that checked nothing would let any request pass."""
    ops = json.loads(path.read_text(encoding="utf-8"))["paths"][MESSAGES_PATH]
    form = ops["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    query = [p["name"] for p in ops["get"]["parameters"] if p["in"] == "query"]
    return frozenset(form["schema"]["properties"]), frozenset(query)


CREATE_FIELDS, LIST_PARAMS = load_fields()
_ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_MG_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# Twilio's `DateSent` filters go by GMT day; a message not sent yet has no `date_sent` and never matches.
_DAYS: dict[str, Callable[[date, date], bool]] = {"DateSent>": ge, "DateSent<": le, "DateSent": eq}
_TEXTS = {
    20001: "Unknown parameter",  # real Twilio only warns (and ignores it); the fake refuses
    20003: "Authenticate", 20404: "The requested resource was not found",
    20429: "Too Many Requests", 20500: "Internal Server Error", 20503: "Service Unavailable",
    21602: "Message body is required.", 21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.", 21609: "Invalid 'StatusCallback'",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21624: "Invalid validity period value", 21705: "The Messaging Service is invalid",
}  # fmt: skip


@dataclass
class Script:
    """How the fake answers the next `times` POSTs to one `To` number (every one when None).

    `code` / `status`: answer this Twilio error (the status follows from the code, or the code from
    the status). `delay`: wait this long before answering. `created`: record the message anyway
    (default: only when no error is scripted; with no error and False, answer 503 and record nothing).
    `html`: an HTML error body instead of JSON. `drop`: close the connection without answering.
    """

    code: int | None = None
    status: int | None = None
    times: int | None = None
    delay: float = 0.0
    created: bool | None = None
    html: bool = False
    drop: bool = False


@dataclass(frozen=True)
class Attempt:
    """One POST to Messages.json, accepted or not; `username` is set only when auth was right."""

    to: str | None
    form: dict[str, str]
    username: str | None
    http_status: int


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any]
    script: Script = field(default_factory=Script)


def _error(code: int, status: int = 400, message: str | None = None) -> _Reply:
    text, info = message or _TEXTS.get(code, "Error"), f"https://www.twilio.com/docs/errors/{code}"
    return _Reply(status, {"code": code, "message": text, "more_info": info, "status": status})


class FakeTwilio:
    """Serves on 127.0.0.1 on a free port from construction; a context manager, or call `stop()`."""

    def __init__(
        self, *, fault_rate: float = 0.0, seed: int = 0, latency: float = 0.0, clock: Clock | None = None
    ) -> None:
        if latency < 0:
            raise ValueError("latency must not be negative")
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.fault_rate = fault_rate  # share of unscripted POSTs answered 429 or 500, creating nothing
        self.latency = latency  # seconds every POST waits before it is handled and answered
        # Messages are stamped with this clock's time: the app's, so that tests on a frozen clock
        # see the dates Twilio would give them.
        self.clock: Clock = clock or SystemClock()
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[Attempt] = []
        self.requests = 0
        self._rng = random.Random(seed)
        self._scripts: dict[str, Script] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and wake delayed replies, so that no test waits for them."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=2)

    def script(self, to: str, **behaviour: Any) -> None:
        """Script POSTs to `to`; the keyword arguments are the fields of `Script`."""
        with self._lock:
            self._scripts[to] = Script(**behaviour)

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.messages.clear()
            self.attempts.clear()
            self.requests, self.fault_rate = 0, 0.0

    def attempts_to(self, to: str) -> int:
        with self._lock:
            return sum(1 for attempt in self.attempts if attempt.to == to)

    def pause(self, seconds: float) -> bool:
        """Wait in a handler thread; True when the fake was stopped meanwhile."""
        return self._stopping.wait(seconds)

    def handle(self, method: str, target: str, authorization: str | None, body: str) -> _Reply:
        with self._lock:
            self.requests += 1
            url, form = urlsplit(target), dict(parse_qsl(body, keep_blank_values=True))
            route = _ROUTE.match(url.path)
            username = _basic_username(authorization, self.auth_token)
            if username != self.account_sid:
                reply = _error(20003, 401)
            elif not route or route["sid"] != self.account_sid:
                reply = _error(20404, 404)
            elif method == "GET":
                return self._list(url.path, dict(parse_qsl(url.query, keep_blank_values=True)))
            else:
                reply = _validate(form) or self._create(form)
            if method == "POST":
                self.attempts.append(Attempt(form.get("To"), form, username, reply.status))
            return reply

    def _create(self, form: dict[str, str]) -> _Reply:
        script = self._scripts.get(form["To"])
        if script is not None and script.times is not None:
            remaining, script.times = script.times, script.times - 1
            script = script if remaining > 0 else None
        if script is None and self.fault_rate and self._rng.random() < self.fault_rate:
            return _error(20429, 429) if self._rng.random() < 0.5 else _error(20500, 500)
        script = script or Script()
        failing = script.code is not None or script.status is not None
        message = self._record(form) if (script.created is None and not failing) or script.created else None
        if failing:
            status = script.status or {20003: 401, 20429: 429}.get(script.code or 0, 400)
            code = script.code if script.code is not None else 20000 + status
            reply = _error(code, status, _invalid_to(form["To"]) if code == 21211 else None)
        else:
            reply = _Reply(201, message) if message else _error(20503, 503)
        reply.script = script
        return reply

    def _record(self, form: dict[str, str]) -> dict[str, Any]:
        sid, now = "SM" + secrets.token_hex(16), format_datetime(self.clock.now().astimezone(UTC))
        uri, service = (
            f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}",
            form.get("MessagingServiceSid"),
        )
        message: dict[str, Any] = {
            "sid": sid, "account_sid": self.account_sid, "to": form["To"], "from": form.get("From"),
            "messaging_service_sid": service, "body": form.get("Body", ""),
            "status": "accepted" if service else "queued", "direction": "outbound-api",
            "date_created": now, "date_updated": now, "date_sent": None,
            "num_segments": "0" if service else "1", "num_media": "0", "api_version": "2010-04-01",
            "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
            "uri": uri + ".json", "subresource_uris": {"media": uri + "/Media.json"},
        }  # fmt: skip
        self.messages.append(message)
        return message

    def _list(self, path: str, query: dict[str, str]) -> _Reply:
        unknown = sorted(set(query) - LIST_PARAMS)
        if unknown:
            return _error(20001, 400, f"Unknown parameter: {unknown[0]}")
        try:
            size, page = min(int(query.get("PageSize", "50")), 1000), int(query.get("Page", "0"))
            days = [(op, datetime.fromisoformat(query[k]).date()) for k, op in _DAYS.items() if k in query]
        except ValueError:
            return _error(20001, 400, "Invalid list parameter")
        rows = [
            m for m in reversed(self.messages)
            if query.get("To", m["to"]) == m["to"] and query.get("From", m["from"]) == m["from"]
            and all(m["date_sent"] and op(parsedate_to_datetime(m["date_sent"]).date(), day)
                    for op, day in days)
        ]  # fmt: skip
        chunk = rows[page * size : (page + 1) * size]

        def uri(n: int) -> str:
            return f"{path}?{urlencode({**query, 'PageSize': size, 'Page': n})}"

        more = (page + 1) * size < len(rows)
        return _Reply(200, {
            "messages": chunk, "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0), "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page else None,
        })  # fmt: skip


def _validate(form: dict[str, str]) -> _Reply | None:
    """Twilio's rules for CreateMessageRequest, answered with the codes Twilio uses for them."""
    unknown = sorted(set(form) - CREATE_FIELDS)
    period = form.get("ValidityPeriod")
    callback = urlsplit(form["StatusCallback"]) if "StatusCallback" in form else None
    if unknown:
        return _error(20001, 400, f"Unknown parameter: {unknown[0]}")
    if not form.get("To"):
        return _error(21604)
    if not _E164.match(form["To"]):
        return _error(21211, 400, _invalid_to(form["To"]))
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return _error(21603)
    if "MessagingServiceSid" in form and not _MG_SID.match(form["MessagingServiceSid"]):
        return _error(21705)
    if not any(form.get(name) for name in ("Body", "MediaUrl", "ContentSid")):
        return _error(21602)
    if len(form.get("Body", "")) > 1600:
        return _error(21617)
    if period is not None and not (period.isdigit() and 1 <= int(period) <= 36000):
        return _error(21624)
    if callback and (callback.scheme not in ("http", "https") or "_" in (callback.hostname or "_")):
        return _error(21609)  # "must contain a valid hostname and underscores are not allowed"
    return None


def _invalid_to(to: str) -> str:
    return f"The 'To' number {to} is not a valid phone number."  # Twilio quotes the number back


def _basic_username(header: str | None, token: str) -> str | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return username if secrets.compare_digest(password, token) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTwilio

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is a scenario, not an error


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.command == "POST" and fake.latency and fake.pause(fake.latency):
            self.close_connection = True
            return
        reply = fake.handle(self.command, self.path, self.headers.get("Authorization"), body)
        if reply.script.drop or (reply.script.delay and fake.pause(reply.script.delay)):
            self.close_connection = True
            return
        data, ctype = json.dumps(reply.payload).encode(), "application/json"
        if reply.script.html and reply.status >= 400:
            data, ctype = b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up first (a scripted slow reply)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry patient numbers in list queries
