"""Events for the EHR: a signed POST to a receiver on loopback for each thing that happened (replies
through the signed Twilio webhook, an outcome through the API), the feed at /api/v1/events, and the
staff's Events page with its retry. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from scheduler.app import App, build
from scheduler.dispatch import Dispatcher
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.api_tokens import ApiTokens
from scheduler.store.models import AuditEntry, Event, Message
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import PUBLIC, FrozenClock, Signer, make_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.receiver import Receiver, verified
from tests.support.staff_client import csrf_of, sign_in

PHONE = "+12015550123"
RECORD = "MRN-0042"
SECRET = "the EHR's shared secret for events"
EMAIL, PASSWORD = "staff@example.org", "correct horse battery"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver([500])  # the first POST fails; it is tried again
    yield running
    running.stop()


@pytest.fixture
def app(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio, receiver: Receiver) -> Iterator[App]:
    settings = make_settings(
        database_url,
        send_rate_per_second=1000.0,
        public_base_url=PUBLIC,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_account_sid=fake_twilio.account_sid,
        event_webhook_url=receiver.url,
        event_webhook_secret=SECRET,
    )
    built = build(settings, clock)
    yield built
    built.close()


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    token = ApiTokens(app.database, app.clock).add("ehr")
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def staff(app: App) -> Iterator[TestClient]:
    Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
    with TestClient(create_app(app), base_url="https://reminders.example.org") as web:
        assert sign_in(web, EMAIL, PASSWORD).status_code == 303
        yield web


def enrol(app: App, phone: str = PHONE, record: str = RECORD) -> dict[str, Any]:
    request = EnrolRequest(
        "Ana Lima", phone, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form", external_id=record
    )
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(request))
    return detail


def inbound(client: TestClient, sign: Signer, body: str, sid: str, phone: str = PHONE) -> None:
    form = {"From": phone, "To": "+12015550100", "Body": body, "MessageSid": sid}
    answer = client.post(
        "/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign("/twilio/inbound", form)}
    )
    assert answer.status_code == 200, answer.text


def posted(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.requests]


def test_each_change_reaches_the_receiver_once_signed_and_without_a_name_phone_or_words(
    app: App,
    client: TestClient,
    api: TestClient,
    sign: Signer,
    dispatcher: Dispatcher,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    detail = enrol(app)
    patient_id, first = detail["patient"]["id"], detail["appointments"][0]
    inbound(client, sign, "C", "SM-c")
    inbound(client, sign, "R", "SM-r")
    inbound(client, sign, "I can't breathe and my chest hurts", "SM-urgent")

    assert dispatcher.deliver_events() == 2  # the first POST got a 500
    assert dispatcher.deliver_events() == 0  # it waits before it is tried again
    clock.advance(timedelta(minutes=1))
    assert dispatcher.deliver_events() == 1
    clock.advance(timedelta(days=6, hours=2))  # the first session (Mar 9, 10:00) is over
    missed = api.post(f"/api/v1/appointments/{first['id']}/outcome", json={"outcome": "missed"})
    assert missed.status_code == 200, missed.text
    inbound(client, sign, "STOP", "SM-stop")
    assert dispatcher.deliver_events() == 2
    assert dispatcher.deliver_events() == 0

    bodies = posted(receiver)
    assert len(bodies) == 6  # five events, one of them twice: the try that got a 500
    taken = bodies[1:]
    assert bodies[0] == next(b for b in taken if b["id"] == bodies[0]["id"])  # the retry is the same event
    assert [b["type"] for b in taken] == [
        "appointment.change_requested",
        "reply.urgent",
        "appointment.confirmed",
        "appointment.missed",
        "patient.opted_out",
    ]
    assert len({b["id"] for b in taken}) == 5
    for event in taken:
        assert event["patient_id"] == patient_id
        assert event["external_id"] == RECORD
        assert event["occurred_at"].endswith("Z")
    sessions = [b for b in taken if b["type"].startswith("appointment.")]
    assert {b["appointment_id"] for b in sessions} == {first["id"]}
    assert {b["session_starts_at"] for b in sessions} == {"2026-03-09T14:00:00Z"}
    everything = json.dumps(bodies)
    for private in ("Ana", "Lima", "555", "0123", "breathe", "chest", "STOP"):
        assert private not in everything

    for headers, body in receiver.requests:
        assert headers["Content-Type"] == "application/json"
        assert verified(headers, body, SECRET)
        assert not verified(headers, body, "not the secret")
        assert not verified(
            headers, body.replace(b"confirmed", b"cancelled").replace(b'"id":', b'"id":9'), SECRET
        )

    with UnitOfWork(app.database) as uow:
        states = {e.kind: (e.status, e.attempts) for e in uow.db.scalars(select(Event))}
    assert states["appointment.confirmed"] == ("delivered", 2)
    assert states["patient.opted_out"] == ("delivered", 1)


def test_the_feed_pages_in_order_without_skipping_or_repeating_while_events_are_added(
    app: App, client: TestClient, api: TestClient, sign: Signer, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    enrol(app)
    other = enrol(app, phone="+12015550188", record="MRN-0043")["patient"]["id"]

    def toggle(rounds: int, start: int, phone: str = PHONE) -> None:
        for n in range(start, start + rounds):
            inbound(client, sign, "STOP", f"SM-stop-{phone}-{n}", phone)
            inbound(client, sign, "START", f"SM-start-{phone}-{n}", phone)

    toggle(4, 0)
    seen: list[dict[str, Any]] = []
    after: str | None = None
    for page in range(30):
        answer = api.get("/api/v1/events", params={"limit": 3, **({"after": after} if after else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += body["events"]
        after = body["next"]
        if page in (1, 3):
            toggle(1, 10 + page, "+12015550188")  # new events arrive while the client pages
        if not body["has_more"] and page > 4:
            break
    ids = [e["id"] for e in seen]
    with UnitOfWork(app.database) as uow:
        stored = list(uow.db.scalars(select(Event.id).where(Event.target == "ehr").order_by(Event.id)))
    assert ids == stored
    assert len(ids) == 12
    assert [e["type"] for e in seen[:2]] == ["patient.opted_out", "patient.opted_in"]
    assert {e["delivery"] for e in seen} == {"pending"}

    # Read again later: nothing new is nothing; what the workers did shows.
    again = api.get("/api/v1/events", params={"after": after}).json()
    assert again["events"] == []
    assert again["next"] == after
    assert not again["has_more"]
    dispatcher.deliver_events()
    clock.advance(timedelta(minutes=1))
    dispatcher.deliver_events()
    delivered = api.get("/api/v1/events", params={"limit": 500}).json()["events"]
    assert {e["delivery"] for e in delivered} == {"delivered"}
    assert all(e["attempts"] >= 1 and e["delivered_at"] for e in delivered)

    theirs = api.get("/api/v1/events", params={"patient_id": other, "type": "patient.opted_in"}).json()
    assert [e["patient_id"] for e in theirs["events"]] == [other, other]
    assert {e["type"] for e in theirs["events"]} == {"patient.opted_in"}

    for bad in (
        {"after": "not-a-cursor"},
        {"after": "ZXg"},
        {"after": "ZTEx!"},
        {"after": base64.urlsafe_b64encode(b"e" + b"9" * 13).decode()},  # beyond any id
        {"limit": 0},
        {"limit": 501},
        {"type": "x"},
    ):
        answer = api.get("/api/v1/events", params=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert [e["location"] for e in answer.json()["errors"]] == ["query"], (bad, answer.text)
    with TestClient(api.app) as anonymous:
        assert anonymous.get("/api/v1/events").status_code == 401


def test_the_feed_waits_at_a_gap_that_a_running_transaction_may_still_fill(
    app: App, api: TestClient, clock: FrozenClock
) -> None:
    patient_id = enrol(app)["patient"]["id"]
    now = app.clock.now()
    with UnitOfWork(app.database) as uow:
        for event_id in (1, 2, 4):  # 3: a transaction that has taken its id and not yet committed
            uow.db.add(
                Event(id=event_id, kind="patient.opted_in", target="ehr", patient_id=patient_id,
                      payload={"occurred_at": "2026-03-03T14:00:00Z", "patient_id": patient_id,
                               "external_id": RECORD},
                      status="unsent", attempts=0, due_at=now, created_at=now, updated_at=now)
            )  # fmt: skip
        uow.commit()
    page = api.get("/api/v1/events").json()
    assert [e["id"] for e in page["events"]] == [1, 2]
    assert not page["has_more"]
    assert api.get("/api/v1/events", params={"after": page["next"]}).json()["events"] == []
    clock.advance(timedelta(seconds=61))
    later = api.get("/api/v1/events", params={"after": page["next"]}).json()
    assert [e["id"] for e in later["events"]] == [4]  # 3 never came: a rollback


def test_without_a_webhook_events_are_kept_for_the_feed_and_sent_nowhere(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio, receiver: Receiver, sign: Signer
) -> None:
    settings = make_settings(
        database_url, public_base_url=PUBLIC, twilio_auth_token=fake_twilio.auth_token,
        twilio_account_sid=fake_twilio.account_sid,
    )  # fmt: skip
    built = build(settings, clock)
    try:
        enrol(built)
        with TestClient(create_app(built)) as web:
            inbound(web, sign, "STOP", "SM-stop")
        token = ApiTokens(built.database, clock).add("ehr")
        with TestClient(create_app(built), headers={"Authorization": f"Bearer {token}"}) as api:
            events = api.get("/api/v1/events").json()["events"]
        assert [(e["type"], e["delivery"], e["attempts"]) for e in events] == [
            ("patient.opted_out", "unsent", 0)
        ]
        worker = Dispatcher(built.settings, built.protocols, built.database, built.sender(), clock, "w")
        try:
            assert worker.deliver_events() == 0
        finally:
            worker.close()
        assert receiver.requests == []
    finally:
        built.close()


def test_staff_see_events_by_state_and_retry_a_failed_one(
    app: App,
    client: TestClient,
    staff: TestClient,
    sign: Signer,
    dispatcher: Dispatcher,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    enrol(app)
    receiver.answers[:] = [410]  # the receiver refuses it: not worth trying again by itself
    inbound(client, sign, "C", "SM-c")
    inbound(client, sign, "R", "SM-r")
    assert dispatcher.deliver_events() == 1
    with UnitOfWork(app.database) as uow:
        failed = uow.db.scalars(select(Event).where(Event.status == "failed")).one()
    assert failed.kind == "appointment.confirmed"

    listed = staff.get("/events")
    assert listed.status_code == 200
    assert f"#{failed.id} appointment.confirmed" in listed.text
    assert "appointment.change_requested" in listed.text
    assert 'href="/events"' in staff.get("/").text  # in the nav
    only_failed = staff.get("/events", params={"state": "failed"}).text
    assert "appointment.confirmed" in only_failed
    assert "change_requested" not in only_failed
    assert "HTTP 410" in only_failed
    assert only_failed.count(">Retry</button>") == 1
    assert staff.get("/events", params={"state": "lost"}).status_code == 400

    # Retrying one that did not fail changes nothing.
    delivered_id = failed.id + 1
    csrf = csrf_of(only_failed)
    refused = staff.post(f"/events/{delivered_id}/retry", data={"csrf": csrf}, follow_redirects=False)
    assert refused.status_code == 303
    assert "only a failed event is retried" in staff.get("/events").text
    assert staff.post(f"/events/{failed.id}/retry", data={"csrf": "forged"}).status_code == 403

    retried = staff.post(
        f"/events/{failed.id}/retry",
        data={"csrf": csrf, "next": "/events?state=failed"},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == "/events?state=failed"
    assert f"Event {failed.id} will be sent again." in staff.get("/events?state=pending").text
    with UnitOfWork(app.database) as uow:
        actors = list(uow.db.scalars(select(AuditEntry.actor).where(AuditEntry.action == "event-retry")))
    assert actors == [f"user:{EMAIL}"]
    assert dispatcher.deliver_events() == 1
    assert [b["type"] for b in posted(receiver)] == [
        "appointment.confirmed",
        "appointment.change_requested",
        "appointment.confirmed",
    ]
    assert "No events in that state." in staff.get("/events?state=failed").text


def test_a_message_that_cannot_reach_the_number_is_a_failed_message_and_an_invalid_phone(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    receiver.answers[:] = []
    patient_id = enrol(app)["patient"]["id"]
    dispatcher.drain()  # the welcome text goes out
    with UnitOfWork(app.database) as uow:
        message = uow.db.scalars(select(Message)).one()
    form = {"MessageSid": str(message.provider_sid), "MessageStatus": "undelivered", "To": PHONE}
    form["ErrorCode"] = "30005"  # unknown handset: the number is flagged, the text given up on
    path = f"/twilio/status?message_id={message.id}"
    assert client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)}).status_code == 204
    assert dispatcher.deliver_events() == 2
    bodies = posted(receiver)
    assert [b["type"] for b in bodies] == ["patient.phone_invalid", "message.failed"]
    assert bodies[1]["message_id"] == message.id
    assert {b["patient_id"] for b in bodies} == {patient_id}
    assert all(verified(headers, raw, SECRET) for headers, raw in receiver.requests)
    assert "555" not in json.dumps(bodies)
