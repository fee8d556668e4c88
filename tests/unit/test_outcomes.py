"""What a provider's answer means for a text, as one table, and the retry backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.outcomes import PatientEffect, RetryPolicy, Stage, Verdict, judge_failure
from scheduler.domain.states import Reason, ReminderStatus
from scheduler.errors import Failure

NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=5)
SOON = NOW + timedelta(minutes=20)  # too soon for a retry half an hour later


def judge(failure: Failure, stage: Stage = Stage.SEND, **facts: object) -> Verdict:
    given: dict[str, object] = {"attempts": 1, "delivery_failures": 0, "deadline": LATER}
    given.update(facts)
    return judge_failure(
        failure,
        stage=stage,
        now=NOW,
        policy=RetryPolicy(),
        rng=random.Random(3),
        **given,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("failure", "stage", "facts", "status", "reason", "effect"),
    [
        (Failure.OPTED_OUT, Stage.SEND, {}, "failed", "opted-out", PatientEffect.OPT_OUT),
        (Failure.OPTED_OUT, Stage.DELIVERY, {}, "failed", "opted-out", PatientEffect.OPT_OUT),
        (Failure.INVALID_NUMBER, Stage.SEND, {}, "failed", "phone-invalid", PatientEffect.FLAG_NUMBER),
        (Failure.INVALID_NUMBER, Stage.DELIVERY, {}, "failed", "phone-invalid", PatientEffect.FLAG_NUMBER),
        (Failure.CONFIG, Stage.SEND, {}, "pending", None, None),
        (Failure.CONFIG, Stage.DELIVERY, {}, "failed", "provider-config", None),
        (Failure.RETRY, Stage.SEND, {"attempts": 4}, "pending", None, None),
        (Failure.RETRY, Stage.SEND, {"attempts": 5}, "failed", "too-many-attempts", None),
        (Failure.UNKNOWN, Stage.SEND, {}, "unknown", "outcome-unknown", None),
        (Failure.TRANSIENT, Stage.DELIVERY, {"delivery_failures": 2}, "pending", "delivery-retry", None),
        (Failure.TRANSIENT, Stage.DELIVERY, {"delivery_failures": 3}, "failed", "undelivered", None),
        (Failure.TRANSIENT, Stage.DELIVERY, {"deadline": SOON}, "failed", "undelivered", None),
        (Failure.EXPIRED, Stage.DELIVERY, {}, "expired", "provider-expired", None),
        (Failure.REVIEW, Stage.SEND, {}, "failed", "needs-review", None),
        (Failure.REVIEW, Stage.DELIVERY, {}, "failed", "needs-review", None),
    ],
    ids=[
        "21610-on-send", "21610-reported", "bad-number-on-send", "bad-number-reported", "account-on-send",
        "account-reported", "429-retried", "429-too-often", "timeout", "handset-off-retried",
        "handset-off-too-often", "handset-off-too-late", "provider-expired", "unknown-code-on-send",
        "unknown-code-reported",
    ],
)  # fmt: skip
def test_a_failure_has_one_meaning_wherever_it_was_found(
    failure: Failure,
    stage: Stage,
    facts: dict[str, object],
    status: str,
    reason: str | None,
    effect: PatientEffect | None,
) -> None:
    verdict = judge(failure, stage, **facts)
    assert (verdict.status, verdict.reason, verdict.effect) == (status, reason, effect)


def test_an_account_error_on_send_halts_sending_and_costs_no_attempt() -> None:
    verdict = judge(Failure.CONFIG)
    assert verdict.halt
    assert not verdict.counts_attempt
    assert verdict.status == ReminderStatus.PENDING


def test_a_retry_waits_the_backoff_and_a_delivery_retry_half_an_hour() -> None:
    retry = judge(Failure.RETRY, attempts=2)
    assert retry.retry_at is not None
    assert NOW + timedelta(seconds=30) <= retry.retry_at <= NOW + timedelta(seconds=60)
    redelivery = judge(Failure.TRANSIENT, Stage.DELIVERY, delivery_failures=1)
    assert (redelivery.retry_at, redelivery.reason) == (NOW + timedelta(minutes=30), Reason.DELIVERY_RETRY)


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
