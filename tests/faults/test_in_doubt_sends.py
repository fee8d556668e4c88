"""Sends whose outcome is in doubt, played step by step in-process with the product's timings.

A worker dies mid-send: once (after Twilio created the message; the next worker finds it there),
and twice (the worker that took the claim over dies too, before it has looked that send up; a
third one settles it). The claim is taken over when the dead worker's lease runs out, or as soon
as its heartbeat is stale. And two reconcilers settle the same `unknown` text.

A worker's death is played in-process by the senders of `tests.support.senders`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from scheduler.app import App, build
from scheduler.config import Settings
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.domain.states import MessageStatus
from scheduler.sms import SmsSender, TwilioSender
from scheduler.store.heartbeat import beat
from scheduler.store.models import Message, Reminder
from tests.support import make_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import seed_due_texts
from tests.support.senders import (
    DiesAfterSending,
    DiesBeforeSending,
    DiesWhileLookingUp,
    SlowLookup,
    WorkerDied,
)

FROM_NUMBER = "+12015550100"


class ShiftedClock:
    """Wall-clock time moved forward by what the test has advanced; the fake Twilio reads it too."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def fake(clock: ShiftedClock) -> Iterator[FakeTwilio]:
    with FakeTwilio(clock=clock) as running:
        yield running


@pytest.fixture
def clock() -> ShiftedClock:  # replaces the frozen clock of tests/conftest.py
    return ShiftedClock()


@pytest.fixture
def app(database_url: str, clock: ShiftedClock) -> Iterator[App]:
    settings = make_settings(database_url, send_rate_per_second=1000.0, twilio_from_number=FROM_NUMBER)
    built = build(settings, clock)
    yield built
    built.close()


Attempt = tuple[str | None, str, str | None]  # (worker, status, provider sid) of a message row


class Cluster:
    """Dispatchers sharing one app, one fake Twilio and one clock, with the product's options and
    the app's settings, or `settings`."""

    def __init__(
        self, app: App, fake: FakeTwilio, clock: ShiftedClock, settings: Settings | None = None
    ) -> None:
        self.app, self.clock, self.settings = app, clock, settings or app.settings
        self.twilio = TwilioSender(
            fake.account_sid, fake.auth_token, from_number=FROM_NUMBER, api_base_url=fake.base_url
        )
        self.made: list[Dispatcher] = []

    def worker(self, name: str, sender: SmsSender | None = None) -> Dispatcher:
        app = self.app
        dispatcher = Dispatcher(
            self.settings,
            app.protocols,
            app.database,
            sender or self.twilio,
            self.clock,
            name,
            DispatchOptions(),
        )
        self.made.append(dispatcher)
        return dispatcher

    def close(self) -> None:
        for dispatcher in self.made:
            dispatcher.close()

    def outcome(self) -> tuple[Reminder, list[Attempt]]:
        with self.app.database() as db:
            reminder = db.scalars(select(Reminder)).one()
            rows = db.scalars(select(Message).order_by(Message.id))
            return reminder, [(m.worker, m.status, m.provider_sid) for m in rows]


def _run_after_deaths(
    app: App,
    fake: FakeTwilio,
    clock: ShiftedClock,
    dying: list[type[DiesBeforeSending | DiesAfterSending | DiesWhileLookingUp]],
    *,
    heartbeats: bool = False,
) -> tuple[str, int, list[Attempt], Reminder]:
    """Workers die one after another as `dying` says, then one more settles the text. Each death is
    noticed when the lease runs out or, with `heartbeats` (each worker recorded one before it
    claimed), as soon as the dead worker's heartbeat is stale. Returns the number, what the last
    one sent, every attempt row and the reminder."""
    (phone,) = seed_due_texts(app.settings.database_url, 1)
    cluster = Cluster(app, fake, clock)
    wait = app.settings.worker_stale_after if heartbeats else app.settings.claim_lease
    try:
        for n, death in enumerate(dying):
            if heartbeats:
                beat(app.database, f"worker-{n}", clock.now(), clock.now())
            with pytest.raises(WorkerDied):
                cluster.worker(f"worker-{n}", death(cluster.twilio)).drain()
            clock.advance(wait + timedelta(seconds=1))
        sent = cluster.worker("survivor").drain().sent
    finally:
        cluster.close()
    reminder, attempts = cluster.outcome()
    return phone, sent, attempts, reminder


@pytest.mark.faults
def test_a_text_interrupted_once_after_twilio_created_it_is_found_and_not_sent_again(
    app: App, fake: FakeTwilio, clock: ShiftedClock
) -> None:
    phone, sent, attempts, reminder = _run_after_deaths(app, fake, clock, [DiesAfterSending])
    assert sent == 1
    assert reminder.status == "sent"
    assert fake.attempts_to(phone) == 1, attempts
    assert reminder.provider_sid == fake.messages[0]["sid"]
    assert attempts == [("worker-0", "queued", fake.messages[0]["sid"])]


@pytest.mark.faults
def test_a_text_whose_worker_died_is_taken_over_once_its_heartbeat_is_stale_and_not_sent_again(
    app: App, fake: FakeTwilio, clock: ShiftedClock
) -> None:
    assert app.settings.worker_stale_after < app.settings.claim_lease
    phone, sent, attempts, reminder = _run_after_deaths(app, fake, clock, [DiesAfterSending], heartbeats=True)
    assert sent == 1
    assert reminder.status == "sent"
    assert fake.attempts_to(phone) == 1, attempts
    assert attempts == [("worker-0", "queued", fake.messages[0]["sid"])]


@pytest.mark.faults
def test_a_text_whose_worker_died_before_twilio_had_it_is_sent_once_by_the_next_worker(
    app: App, fake: FakeTwilio, clock: ShiftedClock
) -> None:
    phone, sent, attempts, reminder = _run_after_deaths(
        app, fake, clock, [DiesBeforeSending], heartbeats=True
    )
    assert sent == 1
    assert reminder.status == "sent"
    assert fake.attempts_to(phone) == 1, attempts
    assert [(worker, status) for worker, status, _sid in attempts] == [
        ("worker-0", "not-sent"),
        ("survivor", "queued"),
    ]


@pytest.mark.faults
def test_a_text_interrupted_twice_is_not_sent_again_when_twilio_has_it(
    app: App, fake: FakeTwilio, clock: ShiftedClock
) -> None:
    phone, sent, attempts, reminder = _run_after_deaths(
        app, fake, clock, [DiesAfterSending, DiesWhileLookingUp]
    )
    assert sent == 1
    assert reminder.status == "sent"
    # Twilio had the text from the first worker: the survivor must find it, not send a second one.
    assert fake.attempts_to(phone) == 1, attempts
    assert reminder.provider_sid == fake.messages[0]["sid"], attempts
    # And no attempt is left looking in flight for ever.
    assert all(status != MessageStatus.SUBMITTING for _worker, status, _sid in attempts), attempts


@pytest.mark.faults
def test_a_reconciler_working_from_a_stale_list_does_not_release_a_newer_unknown_send(
    app: App, fake: FakeTwilio, clock: ShiftedClock
) -> None:
    """Two workers' reconcilers list the same `unknown` text. One settles it (not found: back to
    pending); the text is tried again and that attempt ends `unknown` too, but Twilio did create
    it (a 500 after creating, as with a timeout). The other reconciler then reaches its stale row.
    """
    (phone,) = seed_due_texts(app.settings.database_url, 1)
    # The reconciler's two-minute wait is dropped: the race does not depend on it.
    cluster = Cluster(app, fake, clock, replace(app.settings, reconcile_after_seconds=0.0))
    sender_worker, other_reconciler = cluster.worker("worker-a"), cluster.worker("worker-b")

    def meanwhile() -> None:
        assert other_reconciler.reconcile().retry == 1  # not at Twilio: back to pending
        fake.script(phone, status=500, created=True, times=1)
        assert sender_worker.drain().unknown == 1  # tried again; Twilio has it, we do not know

    stale_reconciler = cluster.worker("worker-c", SlowLookup(cluster.twilio, meanwhile))
    try:
        fake.script(phone, status=500, times=1)
        assert sender_worker.drain().unknown == 1  # the first attempt: a 500, nothing created
        stale_reconciler.reconcile()
        # From here on the provider answers normally; let everything settle.
        for dispatcher in (sender_worker, other_reconciler):
            dispatcher.reconcile()
            dispatcher.drain()
    finally:
        cluster.close()

    reminder, attempts = cluster.outcome()
    assert reminder.status == "sent", attempts
    # The second attempt did reach Twilio: it must be found, not sent a third time.
    assert len([m for m in fake.messages if m["to"] == phone]) == 1, attempts
    assert all(status != "unknown" for _worker, status, _sid in attempts), attempts
