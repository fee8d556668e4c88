"""Send-time gates and the retry policy, as tables of explicit instants."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.domain.gates import (
    Decision,
    Defer,
    Expire,
    RetryPolicy,
    Send,
    SendFacts,
    Skip,
    decide,
)
from scheduler.domain.timeutil import zone
from scheduler.domain.window import SendWindow

WINDOW = SendWindow(time(9, 0), time(20, 0))
NOON_NY = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def facts(**changes: object) -> SendFacts:
    base: dict[str, object] = {
        "kind": "prep",
        "current": True,
        "deadline": NOON_NY + timedelta(hours=20),
        "patient_status": "active",
        "opted_out": False,
        "phone_invalid": False,
        "appointment_status": "scheduled",
        "tz": zone("America/New_York"),
    }
    base.update(changes)
    return SendFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "now", "expected"),
    [
        ({}, NOON_NY, Send()),
        ({"opted_out": True}, NOON_NY, Skip("opted-out")),
        ({"phone_invalid": True}, NOON_NY, Skip("phone-invalid")),
        ({"patient_status": "paused"}, NOON_NY, Skip("patient-paused")),
        ({"patient_status": "discharged"}, NOON_NY, Skip("patient-discharged")),
        ({"appointment_status": "cancelled"}, NOON_NY, Skip("session-cancelled")),
        ({"current": False}, NOON_NY, Skip("rescheduled")),
        ({"appointment_status": "attended"}, NOON_NY, Skip("session-attended")),
        ({"kind": "check-in", "appointment_status": "attended"}, NOON_NY, Send()),
        ({"kind": "check-in", "appointment_status": "missed"}, NOON_NY, Skip("session-missed")),
        ({"kind": "confirm", "appointment_status": "confirmed"}, NOON_NY, Skip("already-confirmed")),
        ({"kind": "prep", "appointment_status": "confirmed"}, NOON_NY, Send()),
        ({"kind": "welcome", "appointment_status": None, "deadline": None}, NOON_NY, Send()),
        ({"deadline": NOON_NY}, NOON_NY, Expire()),
        # 21:00 in New York: wait for 09:00 unless that is past the deadline.
        (
            {"deadline": NOON_NY + timedelta(days=2)},
            datetime(2026, 3, 4, 2, 0, tzinfo=UTC),
            Defer(datetime(2026, 3, 4, 14, 0, tzinfo=UTC)),
        ),
        (
            {"deadline": datetime(2026, 3, 4, 13, 0, tzinfo=UTC)},
            datetime(2026, 3, 4, 2, 0, tzinfo=UTC),
            Expire("outside-send-window"),
        ),
    ],
    ids=[
        "send", "opted-out", "phone-invalid", "paused", "discharged", "session-cancelled", "rescheduled",
        "session-over", "check-in-after-attended", "check-in-after-missed", "already-confirmed",
        "prep-for-confirmed", "welcome", "past-deadline", "night-defers", "night-then-too-late",
    ],
)  # fmt: skip
def test_decide(changes: dict[str, object], now: datetime, expected: Decision) -> None:
    assert decide(facts(**changes), now, WINDOW) == expected


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 15, 30), (2, 30, 60), (3, 60, 120), (7, 900, 1800), (20, 900, 1800)],
    ids=["first", "second", "third", "capped", "far-capped"],
)
def test_backoff_doubles_with_jitter_and_is_capped(attempt: int, low: int, high: int) -> None:
    rng = random.Random(7)
    delays = [RetryPolicy().delay(attempt, rng).total_seconds() for _ in range(50)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1
