"""What a worker's dispatcher shares with its parts: settings, the database, the sender, its options,
the running tallies, and whether it is stopping or halted."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.outcomes import RetryPolicy
from scheduler.domain.protocols import Protocol
from scheduler.sms import SmsSender


@dataclass(frozen=True)
class DispatchOptions:
    """What is not a setting: sizes and policies fixed by the code. The lease, the staleness limit
    and the reconciler's wait are settings (`Settings.claim_lease` and the rest)."""

    # The most texts claimed, gated and recorded together: each batch's claim, its two
    # transactions and the hand-over to the next one are spread over its texts. A worker claims
    # fewer when it measures that it could not send them within its tick (`SendLatency`), nor
    # within about `batch_seconds`, or the rate limit would not let it: this binds only when
    # sends are quick and unthrottled.
    batch_size: int = 250
    batch_seconds: float = 2.5
    threads: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # After an authentication or account error, how long sending stays halted.
    config_pause: timedelta = timedelta(minutes=10)


@dataclass
class Counts:
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    expired: int = 0
    skipped: int = 0
    deferred: int = 0
    unknown: int = 0
    # Handed back unsent, to wait for the next claim: the worker was stopping or holding back, or
    # half the claims' lease had gone before the send could start.
    returned: int = 0
    # The drain stopped because its time was up, not because nothing more was due.
    backlog: bool = field(default=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def merge(self, other: Counts) -> None:
        for name in self.as_dict():
            self.add(name, getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not f.name.startswith("_") and f.name != "backlog"
        }


class RateLimiter:
    """A token bucket shared by the sender threads: at most `rate` sends a second."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


class SendLatency:
    """How long one send takes, as a moving average over the latest sends: the provider's time to
    answer, not the rate limiter's wait. None until the first send."""

    WEIGHT = 0.2  # of the newest send: a slower provider is seen within a few sends

    def __init__(self) -> None:
        self._seconds: float | None = None
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            previous = self._seconds
            self._seconds = seconds if previous is None else previous + self.WEIGHT * (seconds - previous)

    @property
    def seconds(self) -> float | None:
        return self._seconds


class SendContext:
    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        database: sessionmaker[DbSession],
        sender: SmsSender,
        clock: Clock,
        worker: str,
        options: DispatchOptions,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.protocols = protocols
        self.database = database
        self.sender = sender
        self.clock = clock
        self.worker = worker
        self.options = options
        self.rng = rng
        self.limiter = RateLimiter(settings.send_rate_per_second)
        self.latency = SendLatency()
        self.stopping = threading.Event()
        self.halted_until: datetime | None = None
        # Set by the runner (`Heartbeat.fresh`): a worker whose own heartbeat has not been recorded
        # for a while holds back its sends, since another may by then take its claims over.
        self.fresh: Callable[[], bool] | None = None

    def halted(self, now: datetime) -> bool:
        """Whether sending is halted after an account error (see `DispatchOptions.config_pause`)."""
        return self.halted_until is not None and now < self.halted_until

    def halt(self, now: datetime) -> None:
        self.halted_until = now + self.options.config_pause

    def holding_back(self, now: datetime) -> bool:
        """True when no new send may start: the worker is stopping, sending is halted, or this
        worker's heartbeat has gone unrecorded for too long."""
        return self.stopping.is_set() or self.halted(now) or (self.fresh is not None and not self.fresh())

    def silent_since(self, now: datetime) -> datetime:
        """Workers not heard from since this instant are gone; their claims may be taken over."""
        return now - self.settings.worker_stale_after
