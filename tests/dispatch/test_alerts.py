"""An urgent reply reaches a person: a text to the on-call number through the real twilio-python, and
a signed POST to a webhook on loopback, retried until it is taken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduler.app import App, build
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.replies import Replies
from scheduler.sms import TwilioSender
from scheduler.store.models import Event, Reply
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock, make_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.receiver import Receiver, verified

PATIENT = "+12015550123"
ON_CALL = "+12015550177"
SECRET = "a shared secret for the alert webhook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver([500])  # the first delivery fails; the retry is taken
    yield running
    running.stop()


@pytest.fixture
def alerting(database_url: str, clock: FrozenClock, receiver: Receiver) -> Iterator[App]:
    settings = make_settings(
        database_url,
        send_rate_per_second=1000.0,
        twilio_from_number="+12015550100",
        public_base_url="https://reminders.example.org",
        staff_alert_phone=ON_CALL,
        staff_alert_webhook_url=receiver.url,
        staff_alert_webhook_secret=SECRET,
    )
    built = build(settings, clock)
    yield built
    built.close()


@pytest.fixture
def worker(alerting: App, fake_twilio: FakeTwilio, clock: FrozenClock) -> Iterator[Dispatcher]:
    sender = TwilioSender(
        fake_twilio.account_sid,
        fake_twilio.auth_token,
        from_number="+12015550100",
        api_base_url=fake_twilio.base_url,
    )
    made = Dispatcher(
        alerting.settings,
        alerting.protocols,
        alerting.database,
        sender,
        clock,
        "w",
        DispatchOptions(threads=1),
    )
    yield made
    made.close()


def test_an_urgent_reply_is_answered_at_once_and_alerts_the_on_call_person(
    alerting: App, worker: Dispatcher, fake_twilio: FakeTwilio, receiver: Receiver, clock: FrozenClock
) -> None:
    request = EnrolRequest("Ana Lima", PATIENT, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form")
    patient = to_json(alerting.clinic("test").enrol(request))["patient"]["id"]
    replies = Replies(alerting.settings, alerting.protocols, alerting.database, clock)

    answer = replies.receive(PATIENT, "I can't breathe and my chest hurts", "SM-urgent-1")
    assert answer is not None
    assert "call 911 now" in answer
    assert "call or text 988" in answer
    # A second urgent reply the same day is answered again: the limit on answers is not for these.
    assert replies.receive(PATIENT, "please, I feel faint", "SM-urgent-2") == answer

    assert worker.deliver_events() == 3  # a text for each reply; the first POST got a 500
    alerts = [m for m in fake_twilio.messages if m["to"] == ON_CALL]
    expected = f"Oak St Clinic: Urgent reply from patient {patient}: see Today."
    assert [m["body"] for m in alerts] == [expected, expected]
    assert worker.deliver_events() == 0  # the failed POST waits before it is tried again
    clock.advance(timedelta(minutes=1))
    assert worker.deliver_events() == 1
    assert worker.deliver_events() == 0  # nothing twice

    posted = [json.loads(body) for _, body in receiver.requests]
    assert [p["reply_id"] for p in posted] == [1, 2, 1]  # the failed try, then each once
    first = posted[2]
    assert first["type"] == "reply.urgent"
    assert first["patient_id"] == patient
    assert first["link"] == f"https://reminders.example.org/patients/{patient}"
    assert "breathe" not in json.dumps(posted)  # never the words of the reply, never a name
    assert "Ana" not in json.dumps(posted)
    for headers, body in receiver.requests:
        assert verified(headers, body, SECRET)
        assert not verified(headers, body, "not the secret")  # a forged signature shows
    with UnitOfWork(alerting.database) as uow:
        alerts_sent = uow.db.scalars(select(Event).where(Event.target != "ehr"))  # not the EHR's events
        assert {e.status for e in alerts_sent} == {"delivered"}
        urgent = uow.db.scalars(select(Reply.urgent).order_by(Reply.id)).all()
    assert urgent == [True, True]


def test_an_ordinary_reply_alerts_no_one(
    alerting: App, worker: Dispatcher, fake_twilio: FakeTwilio, receiver: Receiver, clock: FrozenClock
) -> None:
    request = EnrolRequest("Ana Lima", PATIENT, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form")
    alerting.clinic("test").enrol(request)
    replies = Replies(alerting.settings, alerting.protocols, alerting.database, clock)
    answer = replies.receive(PATIENT, "Is there parking near you?", "SM-plain")
    assert answer is not None
    assert "can't answer medical questions" in answer
    assert worker.deliver_events() == 0
    assert receiver.requests == []
