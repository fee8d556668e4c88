"""The course of sessions: protocol day offsets to wall-clock session times, off closed days."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from scheduler.domain.protocols import Protocol
from scheduler.domain.states import SessionKind

# Two sessions moved off a closed day keep one clear day between them, unless the protocol's own
# offsets put them closer.
MIN_GAP_DAYS = 2


@dataclass(frozen=True)
class PlannedSession:
    kind: SessionKind
    number: int
    local_start: datetime  # naive wall-clock time in the patient's zone


def first_sessions(protocol: Protocol, first: datetime, closed_days: Collection[int]) -> list[PlannedSession]:
    """The sessions the protocol lists, the first at `first` (naive local), the rest moved off
    closed days and kept at the first session's time of day."""
    sessions = [PlannedSession(protocol.first_kind, 1, first)]
    days = protocol.induction_days
    previous = first.date()
    for number, offset in enumerate(days[1:], start=2):
        gap = min(MIN_GAP_DAYS, offset - days[number - 2])
        day = open_day(
            max(first.date() + timedelta(days=offset), previous + timedelta(days=gap)), closed_days
        )
        sessions.append(PlannedSession(protocol.first_kind, number, datetime.combine(day, first.time())))
        previous = day
    return sessions  # fmt: skip


def next_touch_up(
    last_session_day: date,
    interval_days: int,
    time_of_day: time,
    number: int,
    closed_days: Collection[int],
    not_before: date | None = None,
) -> PlannedSession:
    """The touch-up `interval_days` after the last session, on an open day, never before
    `not_before` (used when a shorter interval would put it in the past)."""
    day = last_session_day + timedelta(days=interval_days)
    if not_before is not None and day < not_before:
        day = not_before
    return PlannedSession(
        SessionKind.TOUCH_UP, number, datetime.combine(open_day(day, closed_days), time_of_day)
    )


def open_day(day: date, closed_days: Collection[int]) -> date:
    """`day`, or the next day the clinic is open."""
    for _ in range(7):
        if day.weekday() not in closed_days:
            return day
        day += timedelta(days=1)
    raise ValueError("the clinic is closed every day of the week")


def initial_sessions(
    protocol: Protocol,
    first: datetime,
    closed_days: Collection[int],
    interval_days: int | None,
    not_before: date,
) -> list[PlannedSession]:
    """What enrolment books: the protocol's sessions and, after an induction series with
    touch-ups, the first touch-up one interval after the last session (never before `not_before`).
    A maintenance-only course books its next touch-up once the first is attended."""
    sessions = first_sessions(protocol, first, closed_days)
    if interval_days is not None and protocol.first_kind == SessionKind.INDUCTION:
        last = sessions[-1].local_start.date()
        sessions.append(next_touch_up(last, interval_days, first.time(), 1, closed_days, not_before))
    return sessions
