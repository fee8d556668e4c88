"""Times worth a second look: accepted, with a warning that says what is odd."""

from __future__ import annotations

from datetime import datetime

import pytest

from scheduler.domain.oddities import Booked, course_warnings, time_warnings
from scheduler.domain.states import SessionKind
from scheduler.domain.timeutil import to_utc, zone

NY = zone("America/New_York")
CLOSED = frozenset({5, 6})


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-03-09 10:00", []),
        (
            "2026-03-08 02:30",
            [
                "2026-03-08 02:30 does not exist in America/New_York (the clocks go forward that night); "
                "the session is at 03:30",
                "2026-03-08 is a Sunday, a day the clinic is closed",
            ],
        ),
        (
            "2026-11-01 01:30",
            [
                "2026-11-01 01:30 happens twice in America/New_York (the clocks go back that night); "
                "the session is at the first, EDT",
                "2026-11-01 is a Sunday, a day the clinic is closed",
            ],
        ),
        ("2026-03-07 10:00", ["2026-03-07 is a Saturday, a day the clinic is closed"]),
    ],
    ids=["ordinary", "spring-gap", "autumn-fold", "closed-day"],
)
def test_odd_wall_clock_times_are_named(when: str, expected: list[str]) -> None:
    assert time_warnings(local(when), NY, CLOSED) == expected


def booked(number: int, when: str, kind: SessionKind = SessionKind.INDUCTION) -> Booked:
    return Booked(kind, number, to_utc(local(when), NY))


def test_a_session_less_than_a_day_from_another_is_named() -> None:
    others = [booked(1, "2026-03-09 10:00"), booked(3, "2026-03-13 10:00")]
    warnings = course_warnings(booked(2, "2026-03-09 18:00"), others, NY)
    assert warnings == ["it is less than a day after session 1 (2026-03-09 10:00)"]


def test_a_session_moved_out_of_the_courses_order_is_named() -> None:
    others = [booked(1, "2026-03-09 10:00"), booked(3, "2026-03-13 10:00"), booked(4, "2026-03-16 10:00")]
    assert course_warnings(booked(2, "2026-03-14 12:00"), others, NY) == [
        "session 2 now comes after session 3"
    ]
    assert course_warnings(booked(4, "2026-03-08 10:00"), others[:2], NY) == [
        "session 4 now comes before session 1",
        "session 4 now comes before session 3",
    ]
