"""Send-time gates: whether a claimed text goes out now, waits, or ends with a reason.

Plans are made days ahead; these checks run again at the moment of sending, because a patient
may have been paused, a session cancelled or confirmed, or the worker may be running late.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.timeutil import to_local, to_utc
from scheduler.domain.window import SendWindow


@dataclass(frozen=True)
class SendFacts:
    kind: str
    current: bool  # False for a text planned for a time the session has since moved from
    deadline: datetime | None
    patient_status: str
    opted_out: bool
    phone_invalid: bool
    appointment_status: str | None  # None for texts not tied to a session (the welcome)
    tz: ZoneInfo


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Expire:
    reason: str = "too-late"


@dataclass(frozen=True)
class Defer:
    until: datetime


Decision = Send | Skip | Expire | Defer

# Session states in which a text about the session still makes sense.
_BEFORE_OK = ("scheduled", "confirmed")
_AFTER_OK = ("scheduled", "confirmed", "attended")


def decide(facts: SendFacts, now: datetime, window: SendWindow) -> Decision:
    """What to do with a claimed text at `now`."""
    if facts.opted_out:
        return Skip("opted-out")
    if facts.phone_invalid:
        return Skip("phone-invalid")
    if facts.patient_status != "active":
        return Skip(f"patient-{facts.patient_status}")
    if not facts.current:
        return Skip("rescheduled")
    status = facts.appointment_status
    if status is not None:
        allowed = _AFTER_OK if facts.kind == "check-in" else _BEFORE_OK
        if status not in allowed:
            return Skip(f"session-{status}")
        if facts.kind == "confirm" and status == "confirmed":
            return Skip("already-confirmed")
    if facts.deadline is not None and now >= facts.deadline:
        return Expire()
    local = to_local(now, facts.tz)
    if not window.contains(local):
        until = to_utc(window.earliest_after(local), facts.tz)
        if facts.deadline is not None and until >= facts.deadline:
            return Expire("outside-send-window")
        return Defer(until)
    return Send()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for sends the provider did not process."""

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * (1 << max(0, attempt - 1)))
        # Half fixed, half random: spreads a burst of retries without waiting too little.
        return ceiling / 2 + ceiling / 2 * rng.random()
