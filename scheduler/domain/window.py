"""The send window: the local hours in which planned texts may go out, and how texts move into it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

# A text moved earlier lands this long before the window closes, so a dispatcher that is a
# little behind (retries, a busy tick) still sends it inside the window.
LATE_SLOT_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True)
class SendWindow:
    """Local times of day [start, end) in which planned texts may be sent."""

    start: time
    end: time

    def __post_init__(self) -> None:
        span = _minutes(self.end) - _minutes(self.start)
        if span < 60:
            raise ValueError("the send window must start before it ends and last at least an hour")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: datetime) -> bool:
        return self.start <= local.time() < self.end

    def latest_before(self, local: datetime) -> datetime:
        """`local` if it is inside the window, else the last slot of the window before it."""
        if self.contains(local):
            return local
        day = local.date() if local.time() >= self.end else local.date() - timedelta(days=1)
        return self._late_slot(day)

    def earliest_after(self, local: datetime) -> datetime:
        """`local` if it is inside the window, else the moment the window next opens."""
        if self.contains(local):
            return local
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.start)

    def _late_slot(self, day: date) -> datetime:
        return datetime.combine(day, self.end) - LATE_SLOT_MARGIN


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute
