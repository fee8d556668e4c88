"""Wall-clock times in a patient's zone to UTC instants and back, with the DST rules of the design."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.errors import InvalidInput


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or InvalidInput for anything else (abbreviations, offsets, typos)."""
    problem = "unknown timezone: use an IANA name such as America/New_York"
    # Abbreviations such as EST are legacy links in the tz database: ambiguous, and wrong in summer.
    if "/" not in name and name != "UTC":
        raise InvalidInput(problem, field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(problem, field="timezone") from None


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Turn a naive wall-clock time in `tz` into an aware UTC instant.

    fold=0 gives both rules at once: a time that does not exist (spring forward) is read with the
    offset before the gap, so it lands as far after the gap as it was into it; an ambiguous time
    (fall back) takes its first occurrence.
    """
    if local.tzinfo is not None:
        raise ValueError("to_utc takes a naive wall-clock time")
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time in `tz` of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("to_local takes an aware instant")
    return instant.astimezone(tz).replace(tzinfo=None)


LOCAL_TIME_FORMAT = "YYYY-MM-DD HH:MM"
_LOCAL_TIME = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::00)?\s*")
# An instant with its offset, as the API answers with it: 2026-03-09T10:00:00-04:00, or ...Z.
_INSTANT = re.compile(r"\s*\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})\s*")


def parse_when(text: str, tz: ZoneInfo | None, field_name: str) -> datetime:
    """A session's start as staff or a system wrote it: a wall-clock time in the patient's zone
    (YYYY-MM-DD HH:MM), or an ISO 8601 instant with its offset, read as the wall-clock time it
    is in `tz`. Returns the naive wall-clock time."""
    if _INSTANT.fullmatch(text):
        try:
            instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(
                f"{field_name} is not a real date and time ({exc})", field=field_name
            ) from None
        if tz is None:
            raise InvalidInput("the time zone is needed to read this time", field=field_name)
        if instant.second or instant.microsecond:
            raise InvalidInput("sessions start on a whole minute", field=field_name)
        return to_local(instant, tz)
    return parse_local(text, field_name)


def parse_local(text: str, field_name: str) -> datetime:
    """A wall-clock time written as YYYY-MM-DD HH:MM (no zone: the patient's zone applies)."""
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"{field_name} is not a time like {LOCAL_TIME_FORMAT} (or ISO 8601 with an offset)",
            field=field_name,
        )
    try:
        year, month, day, hour, minute = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute)  # noqa: DTZ001 - a wall-clock time
    except ValueError as exc:
        raise InvalidInput(f"{field_name} is not a real date and time ({exc})",
                           field=field_name) from None  # fmt: skip
