"""What the tests share: a frozen clock that can advance, settings, and the types of the factories
that conftest fixtures hand out. Helpers for one kind of test live beside this module
(`fake_twilio`, `processes`, `sms`, `browser`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from scheduler.config import Settings
from scheduler.dispatch import Dispatcher
from scheduler.sms import TwilioSender

# The public URL the web tests' app believes it has; Twilio signs webhooks against it.
PUBLIC = "https://reminders.example.org"
# X-Twilio-Signature for a form posted to a path (with its query) on PUBLIC.
Signer = Callable[[str, dict[str, str]], str]
# Builds a dispatcher wired to the fake Twilio: a worker name, `wrap` (a sender around the Twilio
# sender, see `senders`) and DispatchOptions fields as keywords.
DispatcherFactory = Callable[..., Dispatcher]
# Builds a TwilioSender for the fake Twilio; keywords override its defaults.
SenderFactory = Callable[..., TwilioSender]


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
