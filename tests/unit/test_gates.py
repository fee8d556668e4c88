"""Send-time gates, as a table of explicit instants."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.domain.gates import (
    Decision,
    Defer,
    Expire,
    Send,
    SendFacts,
    Skip,
    decide,
)
from scheduler.domain.states import Reason
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
        ({"opted_out": True}, NOON_NY, Skip(Reason("opted-out"))),
        ({"phone_invalid": True}, NOON_NY, Skip(Reason("phone-invalid"))),
        ({"patient_status": "paused"}, NOON_NY, Skip(Reason("patient-paused"))),
        ({"patient_status": "discharged"}, NOON_NY, Skip(Reason("patient-discharged"))),
        ({"appointment_status": "cancelled"}, NOON_NY, Skip(Reason("session-cancelled"))),
        ({"current": False}, NOON_NY, Skip(Reason("rescheduled"))),
        ({"appointment_status": "attended"}, NOON_NY, Skip(Reason("session-attended"))),
        ({"kind": "check-in", "appointment_status": "attended"}, NOON_NY, Send()),
        ({"kind": "check-in", "appointment_status": "missed"}, NOON_NY, Skip(Reason("session-missed"))),
        ({"kind": "confirm", "appointment_status": "confirmed"}, NOON_NY, Skip(Reason("already-confirmed"))),
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
            Expire(Reason("outside-send-window")),
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
