"""SMS senders that wrap the real Twilio sender to stage what the network cannot: a worker that
dies mid-send, a delivery report that overtakes the send's answer, a slow lookup.

A worker's death is played in-process (deterministic, unlike a SIGKILL at a random moment): the
sender raises `WorkerDied`, a BaseException the dispatcher does not catch, at the chosen point, and
that dispatcher is never used again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from scheduler.sms import OutgoingSms, ProviderMessage, SendReceipt, SmsSender


class WorkerDied(BaseException):
    """Stands for a SIGKILL: nothing after it runs in that worker."""


class Wrapped:
    """Passes everything to the sender it wraps; subclasses change one step."""

    name = "twilio"

    def __init__(self, inner: SmsSender) -> None:
        self.inner = inner

    def send(self, sms: OutgoingSms) -> SendReceipt:
        return self.inner.send(sms)

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        return self.inner.recent_messages(to, since)


class DiesBeforeSending(Wrapped):
    """The worker recorded its attempt, then died before the request left."""

    def send(self, sms: OutgoingSms) -> SendReceipt:
        raise WorkerDied


class DiesAfterSending(Wrapped):
    """Twilio creates the message; the worker dies before it hears back."""

    def send(self, sms: OutgoingSms) -> SendReceipt:
        self.inner.send(sms)
        raise WorkerDied


class DiesWhileLookingUp(Wrapped):
    """The worker dies while it looks up an interrupted send (or just before)."""

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        raise WorkerDied


class AfterSending(Wrapped):
    """Runs `meanwhile` with each text and its receipt before the worker hears back (a delivery
    report that overtakes the answer to the send)."""

    def __init__(self, inner: SmsSender, meanwhile: Callable[[OutgoingSms, SendReceipt], None]) -> None:
        super().__init__(inner)
        self.meanwhile = meanwhile

    def send(self, sms: OutgoingSms) -> SendReceipt:
        receipt = self.inner.send(sms)
        self.meanwhile(sms, receipt)
        return receipt


class SlowLookup(Wrapped):
    """A lookup at the provider that takes a while: `meanwhile` runs during it."""

    def __init__(self, inner: SmsSender, meanwhile: Callable[[], None]) -> None:
        super().__init__(inner)
        self.meanwhile = meanwhile

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        found = self.inner.recent_messages(to, since)
        self.meanwhile()
        return found
