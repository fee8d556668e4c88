"""What a provider's answer means for a text and its patient, wherever the answer came from.

A send can fail at once (Twilio refuses the request) or later (a delivery report says the text
never reached the handset). Both are judged here, by one table, so an opt-out or a bad number has
the same effect whoever found it. Applying a verdict to the database is the services' job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scheduler.domain.states import Reason, ReminderStatus
from scheduler.errors import Failure

# A text that failed on the way to the handset (phone off, no signal) is tried again a little
# later, this many times at most, and only while it can still be useful.
DELIVERY_RETRIES = 2
DELIVERY_RETRY_AFTER = timedelta(minutes=30)


class Stage(StrEnum):
    SEND = "send"  # the provider answered our request
    DELIVERY = "delivery"  # a delivery report for a message the provider took


class PatientEffect(StrEnum):
    OPT_OUT = "opt-out"  # the number replied STOP at the carrier or provider
    FLAG_NUMBER = "phone-invalid"  # the number cannot take texts


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


@dataclass(frozen=True)
class Verdict:
    status: ReminderStatus
    reason: Reason | None
    retry_at: datetime | None = None  # with status pending: when to try again
    effect: PatientEffect | None = None
    halt: bool = False  # an account problem: stop sending to everyone for a while
    counts_attempt: bool = True


def judge_failure(
    failure: Failure,
    *,
    stage: Stage,
    attempts: int,
    delivery_failures: int,
    deadline: datetime | None,
    now: datetime,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> Verdict:
    """The verdict on a text the provider refused or could not deliver.

    `attempts` counts requests made for the text (this one included); `delivery_failures` the
    messages of it reported undelivered or failed (this one included).
    """
    if failure is Failure.OPTED_OUT:
        return Verdict(ReminderStatus.FAILED, Reason.OPTED_OUT, effect=PatientEffect.OPT_OUT)
    if failure is Failure.INVALID_NUMBER:
        return Verdict(ReminderStatus.FAILED, Reason.PHONE_INVALID, effect=PatientEffect.FLAG_NUMBER)
    if failure is Failure.CONFIG:
        if stage is Stage.SEND:
            # Nothing was sent and nothing is wrong with the text: it waits until the account works.
            return Verdict(ReminderStatus.PENDING, None, halt=True, counts_attempt=False)
        return Verdict(ReminderStatus.FAILED, Reason.PROVIDER_CONFIG)
    if failure is Failure.RETRY:
        policy = policy or RetryPolicy()
        if attempts >= policy.max_attempts:
            return Verdict(ReminderStatus.FAILED, Reason.TOO_MANY_ATTEMPTS)
        wait = policy.delay(attempts, rng or random.Random())
        return Verdict(ReminderStatus.PENDING, None, retry_at=now + wait)
    if failure is Failure.UNKNOWN:
        return Verdict(ReminderStatus.UNKNOWN, Reason.OUTCOME_UNKNOWN)
    if failure is Failure.TRANSIENT:
        retry_at = now + DELIVERY_RETRY_AFTER
        if delivery_failures <= DELIVERY_RETRIES and (deadline is None or retry_at < deadline):
            return Verdict(ReminderStatus.PENDING, Reason.DELIVERY_RETRY, retry_at=retry_at)
        return Verdict(ReminderStatus.FAILED, Reason.UNDELIVERED)
    if failure is Failure.EXPIRED:
        return Verdict(ReminderStatus.EXPIRED, Reason.PROVIDER_EXPIRED)
    # Carrier filtering (30007) and codes we do not know: a person looks at it.
    return Verdict(ReminderStatus.FAILED, Reason.NEEDS_REVIEW)
