"""Test helpers: a frozen clock that can advance, and settings for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from scheduler.config import Settings


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = now.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, now: datetime) -> None:
        self._now = now.astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_settings(database_url: str, **changes: object) -> Settings:
    base = Settings(database_url=database_url, clinic_name="Oak St Clinic", sms_backend="console")
    return replace(base, **changes)  # type: ignore[arg-type]
