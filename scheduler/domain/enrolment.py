"""The rules an enrolment must meet, checked once for every way in (CLI, API, CSV, web form).

Every problem is collected, so a form or an API answer can show all of them at once; the messages
never quote a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from scheduler.domain.phones import parse_mobile
from scheduler.domain.protocols import Protocol, find_protocol
from scheduler.domain.states import Language
from scheduler.domain.timeutil import parse_when, to_utc, zone
from scheduler.errors import InvalidInput

MAX_NAME = 100
MAX_CONSENT = 200
MAX_EXTERNAL_ID = 64
# How far ahead a first session may be booked.
HORIZON = timedelta(days=366)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
T = TypeVar("T")


@dataclass(frozen=True)
class EnrolRequest:
    """An enrolment as it was typed: every field as text (the interval may already be a number)."""

    name: str
    phone: str
    timezone: str
    protocol: str
    first: str  # wall-clock time in the patient's zone, YYYY-MM-DD HH:MM
    consent: str
    interval_days: int | str | None = None
    language: str = "en"  # the patient's texts: en or es (empty: en)
    external_id: str = ""  # the clinic's record number, optional


@dataclass(frozen=True)
class Enrolment:
    """An enrolment that meets every rule, in stored form."""

    name: str
    phone: str  # E.164
    timezone: str  # an IANA name
    protocol: Protocol
    first_local: datetime  # naive wall-clock time in `timezone`
    consent: str
    interval_days: int | None
    language: Language = Language.EN
    external_id: str | None = None


def check_enrolment(
    request: EnrolRequest, protocols: Mapping[str, Protocol], region: str, now: datetime
) -> Enrolment:
    """`request` in stored form, or InvalidInput with every problem, each under its field."""
    problems: dict[str, str] = {}

    def check(name: str, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except InvalidInput as exc:
            problems.setdefault(exc.field or name, str(exc))
            return None

    name = check("name", lambda: check_name(request.name))
    phone = check("phone", lambda: parse_mobile(request.phone, region))
    tz = check("timezone", lambda: zone(request.timezone.strip()))
    protocol = check("protocol", lambda: find_protocol(protocols, request.protocol.strip()))
    first = check("first", lambda: check_first(request.first, tz, now))
    consent = check("consent", lambda: check_consent(request.consent))
    interval = check("interval", lambda: _interval(request.interval_days, protocol))
    language = check("language", lambda: check_language(request.language))
    external_id = check("external_id", lambda: check_external_id(request.external_id))
    if problems:
        raise InvalidInput(problems=problems)
    if (
        name is None or phone is None or tz is None or protocol is None or first is None
        or consent is None or language is None
    ):  # fmt: skip
        raise AssertionError("a field without a value reported no problem")
    return Enrolment(name, phone, tz.key, protocol, first, consent, interval, language, external_id)


def check_external_id(text: str) -> str | None:
    """The clinic's record number as given (surrounding spaces dropped), or None when empty."""
    value = text.strip()
    if not value:
        return None
    if len(value) > MAX_EXTERNAL_ID or _CONTROL.search(value):
        raise InvalidInput(
            f"the record number must be at most {MAX_EXTERNAL_ID} characters without control characters",
            field="external_id",
        )
    return value


def check_language(text: str) -> Language:
    """A patient's language from its code (en, es); empty means English."""
    code = text.strip().lower() or Language.EN.value
    if code not in Language.__members__.values():
        known = " or ".join(Language)
        raise InvalidInput(f"language must be {known}", field="language")
    return Language(code)


def check_first(text: str, tz: ZoneInfo | None, now: datetime) -> datetime:
    """The first session's wall-clock time: well formed, ahead, and within a year (in `tz`)."""
    return check_start(text, tz, now, "first", "the first session")


def check_start(
    text: str, tz: ZoneInfo | None, now: datetime, field: str, what: str = "the session"
) -> datetime:
    """A session's wall-clock time (local, or an ISO instant with its offset), ahead and within a
    year: the same rule for enrolling, moving and adding a session."""
    local = parse_when(text, tz, field)
    if tz is not None:
        starts_at = to_utc(local, tz)
        if starts_at <= now:
            raise InvalidInput(f"{what} ({local:%Y-%m-%d %H:%M} {tz.key}) is in the past", field=field)
        if starts_at > now + HORIZON:
            raise InvalidInput(f"{what} is more than a year away", field=field)
    return local


def check_name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("name is required", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"name is longer than {MAX_NAME} characters", field="name")
    if _CONTROL.search(name):
        raise InvalidInput("name contains control characters", field="name")
    return name


def check_consent(consent: str) -> str:
    source = consent.strip()
    if not source:
        raise InvalidInput("consent source is required (how the patient agreed to texts)", field="consent")
    if len(source) > MAX_CONSENT or _CONTROL.search(source):
        raise InvalidInput("consent source is too long or has control characters", field="consent")
    return source


def _interval(value: int | str | None, protocol: Protocol | None) -> int | None:
    if isinstance(value, str):
        text = value.strip()
        if text and not (text.isascii() and text.isdigit()):
            raise InvalidInput("the touch-up interval must be a whole number of days", field="interval")
        value = int(text) if text else None
    if protocol is None:
        return value
    if value is None:
        return protocol.touch_up_days
    problem = protocol.interval_problem(value)
    if problem:
        raise InvalidInput(problem, field="interval")
    return value
