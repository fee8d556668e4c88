"""Course planning: protocol days to wall-clock sessions, closed days, DST, touch-ups."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from scheduler.domain.course import first_sessions, next_touch_up, open_day
from scheduler.domain.protocols import BUILTIN
from scheduler.domain.timeutil import to_local, to_utc, zone

WEEKEND = frozenset({5, 6})


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("protocol", "first", "expected_days"),
    [
        ("iv-6x-mwf", "2026-03-02 10:00", ["03-02", "03-04", "03-06", "03-09", "03-11", "03-13"]),
        ("iv-6x-2w", "2026-03-02 10:00", ["03-02", "03-05", "03-09", "03-12", "03-16", "03-19"]),
        (
            "esk-trd",
            "2026-03-02 10:00",
            ["03-02", "03-05", "03-09", "03-12", "03-16", "03-19", "03-23", "03-26", "03-30",
             "04-06", "04-13", "04-20"],
        ),
        (
            "esk-mdsi",
            "2026-03-02 10:00",
            ["03-02", "03-05", "03-09", "03-12", "03-16", "03-19", "03-23", "03-26"],
        ),
        ("touch-up-only", "2026-03-02 10:00", ["03-02"]),
    ],
    ids=["iv-6x-mwf", "iv-6x-2w", "esk-trd", "esk-mdsi", "touch-up-only"],
)  # fmt: skip
def test_each_builtin_protocol_starting_on_a_monday(
    protocol: str, first: str, expected_days: list[str]
) -> None:
    sessions = first_sessions(BUILTIN[protocol], local(first), WEEKEND)
    assert [f"{s.local_start:%m-%d}" for s in sessions] == expected_days
    assert all(s.local_start.time() == time(10, 0) for s in sessions)
    assert [s.number for s in sessions] == list(range(1, len(expected_days) + 1))


def test_touch_up_only_sessions_are_touch_ups() -> None:
    sessions = first_sessions(BUILTIN["touch-up-only"], local("2026-03-02 10:00"), WEEKEND)
    assert [s.kind for s in sessions] == ["touch-up"]


def test_friday_start_moves_weekend_sessions_to_monday_and_keeps_a_day_between() -> None:
    sessions = first_sessions(BUILTIN["iv-6x-mwf"], local("2026-03-06 09:30"), WEEKEND)
    # Day 2 (Sunday) moves to Monday; day 4 (Tuesday) then keeps a clear day after it.
    assert [f"{s.local_start:%a %m-%d %H:%M}" for s in sessions] == [
        "Fri 03-06 09:30",
        "Mon 03-09 09:30",
        "Wed 03-11 09:30",
        "Fri 03-13 09:30",
        "Mon 03-16 09:30",
        "Wed 03-18 09:30",
    ]


def test_no_session_lands_on_a_closed_day() -> None:
    closed = frozenset({2, 5, 6})  # Wednesdays and weekends
    for protocol in BUILTIN.values():
        for s in first_sessions(protocol, local("2026-03-02 10:00"), closed)[1:]:
            assert s.local_start.weekday() not in closed, (protocol.id, s)


@pytest.mark.parametrize(
    ("tz_name", "first", "crossing"),
    [
        ("America/New_York", "2026-03-02 10:00", "spring forward on 2026-03-08"),
        ("America/New_York", "2026-10-26 10:00", "fall back on 2026-11-01"),
        ("Europe/London", "2026-03-23 10:00", "spring forward on 2026-03-29"),
        ("Europe/London", "2026-10-19 10:00", "fall back on 2026-10-25"),
    ],
    ids=["new-york-spring", "new-york-fall", "london-spring", "london-fall"],
)
def test_a_course_across_a_dst_change_keeps_its_local_time(tz_name: str, first: str, crossing: str) -> None:
    tz = zone(tz_name)
    sessions = first_sessions(BUILTIN["iv-6x-2w"], local(first), WEEKEND)
    instants = [to_utc(s.local_start, tz) for s in sessions]
    assert {to_local(i, tz).time() for i in instants} == {time(10, 0)}, crossing
    offsets = {i.astimezone(tz).utcoffset() for i in instants}
    assert len(offsets) == 2, f"the course should straddle {crossing}"


@pytest.mark.parametrize(
    ("tz_name", "wall", "expected_utc"),
    [
        # 02:30 does not exist on 2026-03-08 in New York: it moves forward to 03:30 EDT.
        ("America/New_York", "2026-03-08 02:30", "2026-03-08 07:30"),
        # 01:30 happens twice on 2026-11-01: the first (EDT) is taken.
        ("America/New_York", "2026-11-01 01:30", "2026-11-01 05:30"),
        ("Europe/London", "2026-03-29 01:30", "2026-03-29 01:30"),
        ("Europe/London", "2026-10-25 01:30", "2026-10-25 00:30"),
    ],
    ids=["ny-gap", "ny-fold", "london-gap", "london-fold"],
)
def test_nonexistent_times_move_forward_and_ambiguous_take_the_first(
    tz_name: str, wall: str, expected_utc: str
) -> None:
    instant = to_utc(local(wall), zone(tz_name))
    assert instant.strftime("%Y-%m-%d %H:%M") == expected_utc


@pytest.mark.parametrize(
    ("last", "interval", "expected"),
    [
        (date(2026, 3, 13), 28, date(2026, 4, 10)),  # Friday + 28 = Friday
        (date(2026, 3, 11), 25, date(2026, 4, 6)),  # lands on Sunday -> Monday
        (date(2026, 3, 11), 24, date(2026, 4, 6)),  # lands on Saturday -> Monday
    ],
    ids=["open-day", "sunday", "saturday"],
)
def test_next_touch_up_is_one_interval_after_the_last_session_on_an_open_day(
    last: date, interval: int, expected: date
) -> None:
    session = next_touch_up(last, interval, time(10, 0), 1, WEEKEND)
    assert session.local_start == datetime.combine(expected, time(10, 0))
    assert session.kind == "touch-up"


def test_next_touch_up_is_never_before_the_given_day() -> None:
    session = next_touch_up(date(2026, 1, 5), 21, time(9, 0), 2, WEEKEND, date(2026, 3, 3))
    assert session.local_start.date() == date(2026, 3, 3)


def test_open_day_refuses_a_clinic_that_never_opens() -> None:
    with pytest.raises(ValueError, match="closed every day"):
        open_day(date(2026, 3, 2), range(7))
