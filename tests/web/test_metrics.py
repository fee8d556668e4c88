"""Operational figures at /metrics and in `reminders status`: useful, and free of patient data."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.services import EnrolRequest
from scheduler.services.metrics import status
from scheduler.store.heartbeat import record_tick
from scheduler.store.models import Reminder
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock
from tests.support.fake_twilio import FakeTwilio


def enrol(app: App, phone: str) -> None:
    app.clinic("test").enrol(
        EnrolRequest("Zoë Secret", phone, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form")
    )


def test_metrics_need_no_sign_in_and_hold_no_patient_data(
    app: App, client: TestClient, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    enrol(app, "+12015550123")
    dispatcher.drain()
    record_tick(app.database, "host-1:42", clock.now(), clock.now(), 1)
    clock.advance(timedelta(seconds=30))
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    for name in (
        "reminders_oldest_due_age_seconds",
        "reminders_expired_leases",
        'reminders_by_status{status="unknown"}',
        'reminders_by_status{status="failed"}',
        'reminders_by_status{status="expired"}',
        "reminders_sent_per_minute",
        'reminders_worker_last_tick_age_seconds{worker="host-1:42"} 30.0',
    ):
        assert name in text
    assert "Zoë" not in text
    assert "5550123" not in text


def test_status_shows_how_far_behind_sending_is_and_stuck_claims(
    app: App, clock: FrozenClock, fake_twilio: FakeTwilio, dispatcher: Dispatcher
) -> None:
    enrol(app, "+12015550123")
    enrol(app, "+12015550124")
    clock.advance(timedelta(minutes=10))  # both welcomes are now 10 minutes overdue
    with UnitOfWork(app.database) as uow:
        before = status(uow.db, clock.now())
    assert before.due_now == 2
    assert before.oldest_due_age_seconds == 600.0
    with UnitOfWork(app.database) as uow:
        uow.db.execute(
            update(Reminder)
            .where(Reminder.kind == "welcome", Reminder.patient_id == 1)
            .values(status="sending", claimed_by="dead", lease_until=clock.now() - timedelta(minutes=1))
        )
        uow.commit()
    dispatcher.drain()
    with UnitOfWork(app.database) as uow:
        after = status(uow.db, clock.now())
    assert after.due_now == 0
    assert after.expired_leases == 0  # the expired claim was taken over and sent
    assert after.by_status["sent"] == 2
    assert after.sent_per_minute == 2 / 5
