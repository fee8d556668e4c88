"""Operational figures at /metrics, /healthz and in `reminders status`: useful, true about which
workers are alive and ticking, answering with the database down, and free of patient data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from scheduler.app import App, build
from scheduler.dispatch import Dispatcher
from scheduler.dispatch.liveness import Heartbeat
from scheduler.services import EnrolRequest
from scheduler.services.metrics import Limits, Status, status
from scheduler.store.heartbeat import beat, record_tick, sweep
from scheduler.store.models import Reminder, Worker
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock, make_settings
from tests.support.fake_twilio import FakeTwilio


def enrol(app: App, phone: str) -> None:
    app.clinic("test").enrol(
        EnrolRequest("Zoë Secret", phone, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form")
    )


def figures(app: App) -> Status:
    with UnitOfWork(app.database) as uow:
        return status(uow.db, app.clock.now(), Limits.of(app.settings))


def test_metrics_need_no_sign_in_and_hold_no_patient_data(
    app: App, client: TestClient, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    enrol(app, "+12015550123")
    dispatcher.drain()
    record_tick(app.database, "host-1:42", clock.now(), clock.now(), 1)
    clock.advance(timedelta(seconds=20))
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    for name in (
        "reminders_database_up 1.0",
        "reminders_oldest_due_age_seconds",
        "reminders_expired_leases",
        "reminders_claims_held_by_gone_workers 0.0",
        'reminders_by_status{status="unknown"}',
        'reminders_by_status{status="failed"}',
        'reminders_by_status{status="expired"}',
        "reminders_sent_per_minute",
        "reminders_workers_alive 1.0",
        "reminders_workers_ticking 1.0",
        'reminders_worker_alive_age_seconds{worker="host-1:42"} 20.0',
        'reminders_worker_last_tick_age_seconds{worker="host-1:42"} 20.0',
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
    before = figures(app)
    assert before.due_now == 2
    assert before.oldest_due_age_seconds == 600.0
    with UnitOfWork(app.database) as uow:
        uow.db.execute(
            update(Reminder)
            .where(Reminder.kind == "welcome", Reminder.patient_id == 1)
            .values(status="sending", claimed_by="dead", lease_until=clock.now() - timedelta(minutes=1))
        )
        uow.commit()
    assert figures(app).expired_leases == 1
    dispatcher.drain()
    after = figures(app)
    assert after.due_now == 0
    assert after.expired_leases == 0  # the expired claim was taken over and sent
    assert after.by_status["sent"] == 2
    assert after.sent_per_minute == 2 / 5


def test_a_worker_silent_past_the_staleness_limit_is_gone_and_its_claims_are_counted_then_taken_over(
    app: App, client: TestClient, clock: FrozenClock, dispatcher: Dispatcher
) -> None:
    enrol(app, "+12015550123")
    beat(app.database, "host-1:41:dead", clock.now(), clock.now())
    with UnitOfWork(app.database) as uow:  # it claimed the welcome, with a lease of minutes left
        uow.db.execute(
            update(Reminder)
            .where(Reminder.kind == "welcome")
            .values(
                status="sending", claimed_by="host-1:41:dead", lease_until=clock.now() + timedelta(minutes=5)
            )
        )
        uow.commit()
    clock.advance(app.settings.worker_stale_after - timedelta(seconds=1))
    beat(app.database, "host-2:42:live", clock.now(), clock.now())
    assert [w.worker for w in figures(app).workers] == ["host-2:42:live", "host-1:41:dead"]
    assert dispatcher.drain().claimed == 0  # not gone yet: its claim is left alone

    clock.advance(timedelta(seconds=2))
    gone = figures(app)
    assert [w.worker for w in gone.workers] == ["host-2:42:live"]
    assert (gone.workers_gone, gone.claims_held_by_gone_workers, gone.expired_leases) == (1, 1, 0)
    text = client.get("/metrics").text
    assert "host-1:41:dead" not in text
    assert "reminders_claims_held_by_gone_workers 1.0" in text
    assert "reminders_workers_gone 1.0" in text

    assert dispatcher.drain().sent == 1  # taken over at once, not when the lease runs out
    assert figures(app).claims_held_by_gone_workers == 0
    # Once its lease would have run out too, it is forgotten.
    assert sweep(app.database, clock.now() - app.settings.claim_lease) == 0
    clock.advance(app.settings.claim_lease)
    beat(app.database, "host-2:42:live", clock.now(), clock.now())
    assert sweep(app.database, clock.now() - app.settings.claim_lease) == 1
    assert figures(app).workers_gone == 0


def test_a_worker_that_stops_leaves_the_list_and_one_stopping_with_claims_is_gone_at_once(
    app: App, clock: FrozenClock
) -> None:
    settings = app.settings
    clean = Heartbeat(app.database, clock, "clean", settings.heartbeat_interval, settings.worker_stale_after)
    clean.start()
    assert [w.worker for w in figures(app).workers] == ["clean"]
    assert clean.fresh()
    clean.stop()
    with UnitOfWork(app.database) as uow:
        assert uow.db.scalars(select(Worker.id)).all() == []

    enrol(app, "+12015550123")
    stuck = Heartbeat(app.database, clock, "stuck", settings.heartbeat_interval, settings.worker_stale_after)
    stuck.start()
    with UnitOfWork(app.database) as uow:
        uow.db.execute(
            update(Reminder)
            .where(Reminder.kind == "welcome")
            .values(status="sending", claimed_by="stuck", lease_until=clock.now() + timedelta(minutes=5))
        )
        uow.commit()
    stuck.stop()
    left = figures(app)
    assert (left.workers, left.workers_gone, left.claims_held_by_gone_workers) == ([], 1, 1)


def test_healthz_says_when_no_worker_is_running_or_ticking_and_healthz_web_does_not_mind(
    app: App, client: TestClient, clock: FrozenClock
) -> None:
    def health(path: str = "/healthz") -> tuple[int, dict[str, object]]:
        response = client.get(path)
        body = response.json()
        # This test app is public but prints its texts: a warning these checks need not repeat.
        assert body.pop("warnings") == ["SMS_BACKEND=console: texts are printed, not sent"]
        return response.status_code, body

    code, body = health()
    assert (code, body["status"], body["problem"]) == (
        503,
        "error",
        "no worker is running: texts are not being sent",
    )
    beat(app.database, "w1", clock.now(), clock.now())  # alive, but its first tick has not ended
    code, body = health()
    assert (code, body["workers_alive"], body["workers_ticking"]) == (503, 1, 0)
    assert "no worker has finished a dispatch tick in the last 60 s" in str(body["problem"])

    record_tick(app.database, "w1", clock.now(), clock.now(), 0)
    clock.advance(timedelta(seconds=10))
    assert health() == (
        200,
        {
            "status": "ok",
            "database": "ok",
            "workers_alive": 1,
            "workers_ticking": 1,
            "last_tick_age_seconds": 10.0,
        },
    )
    # Alive (its heartbeat goes on) but stuck in a tick for longer than the limit.
    clock.advance(timedelta(seconds=55))
    beat(app.database, "w1", clock.now(), clock.now())
    code, body = health()
    assert (code, body["workers_alive"], body["workers_ticking"], body["last_tick_age_seconds"]) == (
        503,
        1,
        0,
        65.0,
    )
    assert health("/healthz/web") == (200, {"status": "ok", "database": "ok"})


@pytest.fixture(
    params=["sqlite:////nonexistent-folder/reminders.db", "postgresql://reminders@127.0.0.1:9/reminders"],
    ids=["sqlite", "postgresql"],
)
def unreachable(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[App]:
    """An app whose database cannot be reached (a folder that does not exist, a closed port)."""
    built = build(make_settings(str(request.param)), clock, check=False)
    yield built
    built.close()


def test_with_the_database_down_metrics_still_answer_so_that_an_alert_can_fire(unreachable: App) -> None:
    with TestClient(create_app(unreachable)) as client:
        metrics = client.get("/metrics")
        health = client.get("/healthz")
        web = client.get("/healthz/web")
    assert metrics.status_code == 200
    assert "reminders_database_up 0.0" in metrics.text
    assert "reminders_due_now" not in metrics.text
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")
    assert web.status_code == 503
