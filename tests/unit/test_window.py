"""The send window moves texts earlier before a session and later after one."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from scheduler.domain.window import SendWindow

WINDOW = SendWindow(time(9, 0), time(20, 0))


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("due", "latest_before", "earliest_after"),
    [
        ("2026-03-10 12:00", "2026-03-10 12:00", "2026-03-10 12:00"),
        ("2026-03-10 09:00", "2026-03-10 09:00", "2026-03-10 09:00"),
        ("2026-03-10 07:00", "2026-03-09 19:30", "2026-03-10 09:00"),
        ("2026-03-10 20:00", "2026-03-10 19:30", "2026-03-11 09:00"),
        ("2026-03-10 23:59", "2026-03-10 19:30", "2026-03-11 09:00"),
        ("2026-03-10 00:00", "2026-03-09 19:30", "2026-03-10 09:00"),
    ],
    ids=["inside", "opening", "early", "closing", "late", "midnight"],
)
def test_moving_into_the_window(due: str, latest_before: str, earliest_after: str) -> None:
    assert WINDOW.latest_before(wall(due)) == wall(latest_before)
    assert WINDOW.earliest_after(wall(due)) == wall(earliest_after)


@pytest.mark.parametrize(
    ("start", "end"),
    [(time(20, 0), time(9, 0)), (time(9, 0), time(9, 30))],
    ids=["backwards", "too-short"],
)
def test_a_window_must_open_before_it_closes_and_last_an_hour(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="at least an hour"):
        SendWindow(start, end)
