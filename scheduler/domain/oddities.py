"""Times staff may mean but should look at twice: a wall-clock time that does not exist or happens
twice (daylight saving), a day the clinic is closed, a session less than a day from another, or
one that changes the order of the course. Each is accepted, with a warning that says so."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.states import SessionKind
from scheduler.domain.timeutil import to_local, to_utc

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_APART = timedelta(days=1)


@dataclass(frozen=True)
class Booked:
    """Another session of the course, as the checks need it."""

    kind: SessionKind
    number: int
    starts_at: datetime  # aware UTC


def label(kind: SessionKind, number: int) -> str:
    return f"{'touch-up' if kind == SessionKind.TOUCH_UP else 'session'} {number}"


def time_warnings(local: datetime, tz: ZoneInfo, closed_days: Collection[int]) -> list[str]:
    """What is odd about the wall-clock time `local` (naive) in `tz`."""
    warnings = []
    shown = f"{local:%Y-%m-%d %H:%M}"
    actual = to_local(to_utc(local, tz), tz)
    if actual != local:
        warnings.append(
            f"{shown} does not exist in {tz.key} (the clocks go forward that night); "
            f"the session is at {actual:%H:%M}"
        )
    else:
        first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
        if first.utcoffset() != second.utcoffset():
            warnings.append(
                f"{shown} happens twice in {tz.key} (the clocks go back that night); "
                f"the session is at the first, {first.tzname()}"
            )
    if local.weekday() in closed_days:
        warnings.append(f"{local:%Y-%m-%d} is a {WEEKDAY_NAMES[local.weekday()]}, a day the clinic is closed")
    return warnings


def course_warnings(session: Booked, others: Sequence[Booked], tz: ZoneInfo) -> list[str]:
    """What is odd about `session`'s time among the other sessions of the course."""
    warnings = []
    for other in sorted(others, key=lambda o: o.starts_at):
        gap = abs(other.starts_at - session.starts_at)
        if gap < MIN_APART:
            when = "after" if session.starts_at > other.starts_at else "before"
            warnings.append(
                f"it is less than a day {when} {label(other.kind, other.number)} "
                f"({to_local(other.starts_at, tz):%Y-%m-%d %H:%M})"
            )
    for other in others:
        if other.kind != session.kind:
            continue
        if other.number < session.number and other.starts_at > session.starts_at:
            warnings.append(
                f"{label(session.kind, session.number)} now comes before {label(other.kind, other.number)}"
            )
        elif other.number > session.number and other.starts_at < session.starts_at:
            warnings.append(
                f"{label(session.kind, session.number)} now comes after {label(other.kind, other.number)}"
            )
    return warnings
