"""The dispatcher against a fake Twilio on loopback: what is sent, when, and what happens on errors."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.dispatch.batch import BatchPipeline
from scheduler.dispatch.context import Counts
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.delivery import DeliveryReport, DeliveryReports
from scheduler.sms import OutgoingSms, SendReceipt, SmsSender
from scheduler.store.models import AuditEntry, Message, Patient, Reminder
from scheduler.store.uow import UnitOfWork
from tests.support import DispatcherFactory, FrozenClock
from tests.support.fake_twilio import FakeTwilio
from tests.support.senders import AfterSending, DiesAfterSending, DiesBeforeSending, WorkerDied

# The clock fixture stands at Tue 2026-03-03 14:00 UTC: 09:00 in New York.
PHONE = "+12015550123"


def enrol(app: App, first: str, *, phone: str = PHONE, tz: str = "America/New_York") -> dict[str, Any]:
    request = EnrolRequest("Ana Lima", phone, tz, "iv-6x-mwf", first, "intake-form")
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(request))
    return detail


def reminders(app: App, **where: Any) -> list[Reminder]:
    with UnitOfWork(app.database) as uow:
        query = select(Reminder).order_by(Reminder.id)
        for name, value in where.items():
            query = query.where(getattr(Reminder, name) == value)
        return list(uow.db.scalars(query))


def messages(app: App) -> list[Message]:
    with UnitOfWork(app.database) as uow:
        return list(uow.db.scalars(select(Message).order_by(Message.id)))


def sent_kinds(app: App) -> list[str]:
    return [r.kind for r in reminders(app) if r.status == "sent"]


def test_a_session_in_23_hours_gets_the_welcome_and_the_prep_text_once(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    enrol(app, "2026-03-04 08:00")
    first = dispatcher.drain()
    assert (first.claimed, first.sent) == (2, 2)
    assert sorted(sent_kinds(app)) == ["prep", "welcome"]
    bodies = [m["body"] for m in fake_twilio.messages]
    assert bodies[0].startswith("Oak St Clinic: You're signed up")
    assert "See you Wed, Mar 4 at 8 AM" in bodies[1]
    assert {m["to"] for m in fake_twilio.messages} == {PHONE}
    second = dispatcher.drain()
    assert second.claimed == 0
    assert len(fake_twilio.messages) == 2


def test_the_request_carries_the_status_callback_and_a_validity_period(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    enrol(app, "2026-03-04 08:00")
    dispatcher.drain()
    forms = [a.form for a in fake_twilio.attempts]
    stored = messages(app)
    assert forms[0]["StatusCallback"] == (
        f"https://reminders.example.org/twilio/status?message_id={stored[0].id}"
    )
    assert forms[0]["From"] == "+12015550100"
    # prep is useful until an hour before the 08:00 session, 22 hours away: Twilio's 10 h cap.
    assert int(forms[1]["ValidityPeriod"]) == 36000
    assert [m.provider_sid for m in stored] == [m["sid"] for m in fake_twilio.messages]


def test_the_instants_a_batch_writes_compare_equal_to_the_same_instant_in_sql(
    app: App, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    # The batch writes some rows with driver-level statements: on SQLite the text they store must
    # be the one SQLAlchemy binds (a whole second still carries its microseconds), or comparisons
    # in SQL (due, leases, today's messages) would go wrong.
    enrol(app, "2026-03-04 08:00")
    assert dispatcher.drain().sent == 2
    now = clock.now()
    with UnitOfWork(app.database) as uow:
        sent = uow.db.scalar(select(func.count()).where(Reminder.sent_at == now, Reminder.updated_at == now))
        stamped = uow.db.scalar(
            select(func.count()).where(Message.created_at == now, Message.updated_at == now)
        )
    assert (sent, stamped) == (2, 2)


def test_texts_due_later_are_not_sent_early(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app, "2026-03-09 10:00")
    dispatcher.drain()
    assert sent_kinds(app) == ["welcome"]
    clock.set(datetime.fromisoformat("2026-03-06T14:59:00+00:00"))  # a minute before the confirm
    assert dispatcher.drain().claimed == 0
    clock.advance(timedelta(minutes=1))
    assert dispatcher.drain().sent == 1
    assert sent_kinds(app) == ["welcome", "confirm"]
    clock.set(datetime.fromisoformat("2026-03-08T13:59:00+00:00"))  # EDT now: prep is due 14:00
    assert dispatcher.drain().claimed == 0
    clock.advance(timedelta(minutes=1))
    assert dispatcher.drain().sent == 1
    assert sorted(sent_kinds(app)) == ["confirm", "prep", "welcome"]


def test_a_text_due_outside_the_send_window_waits_for_it(
    app: App, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat("2026-03-03T03:00:00+00:00"))  # 22:00 in New York
    enrol(app, "2026-03-05 10:00")
    welcome = reminders(app, kind="welcome")[0]
    assert welcome.due_at == datetime.fromisoformat("2026-03-03T14:00:00+00:00")  # 09:00
    # A worker that was down until 21:00 finds the welcome due but the window shut: 09:00 then.
    clock.set(datetime.fromisoformat("2026-03-04T02:00:00+00:00"))
    counts = dispatcher.drain()
    assert (counts.claimed, counts.deferred, counts.sent) == (1, 1, 0)
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.attempts) == ("pending", 0)
    assert welcome.due_at == datetime.fromisoformat("2026-03-04T14:00:00+00:00")


def test_after_an_outage_a_text_for_a_past_session_expires_and_a_useful_one_is_sent(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app, "2026-03-05 10:00", phone="+12015550123")
    enrol(app, "2026-03-09 10:00", phone="+12015550124")
    dispatcher.drain()
    fake_twilio.reset()
    # Down from Tuesday to Friday 10:30: the prep for Thursday's session is a day overdue.
    clock.set(datetime.fromisoformat("2026-03-06T15:30:00+00:00"))
    dispatcher.drain()
    expired = {(r.patient_id, r.kind) for r in reminders(app, status="expired")}
    assert (1, "prep") in expired
    bodies = [m["body"] for m in fake_twilio.messages if m["to"] == "+12015550124"]
    assert any("Your visit is Mon, Mar 9 at 10 AM" in b for b in bodies)
    assert not any("See you Thu, Mar 5" in m["body"] for m in fake_twilio.messages)


def test_21610_opts_the_patient_out_and_nothing_more_is_attempted(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    fake_twilio.script(PHONE, code=21610)
    detail = enrol(app, "2026-03-04 08:00")
    counts = dispatcher.drain()
    assert counts.failed == 1
    assert fake_twilio.attempts_to(PHONE) == 1
    with UnitOfWork(app.database) as uow:
        patient = uow.db.get(Patient, detail["patient"]["id"])
        assert patient is not None
        assert patient.opted_out_at is not None
    rows = reminders(app)
    assert {r.status for r in rows} <= {"failed", "cancelled", "skipped"}
    assert [r.error_code for r in rows if r.status == "failed"] == [21610]
    clock.advance(timedelta(days=10))
    dispatcher.drain()
    assert fake_twilio.attempts_to(PHONE) == 1


def test_21211_flags_the_number_and_lists_the_patient_for_staff(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script(PHONE, code=21211)
    detail = enrol(app, "2026-03-04 08:00")
    dispatcher.drain()
    assert fake_twilio.attempts_to(PHONE) == 1
    attention = app.clinic("test").patients("attention")
    assert [(p.id, p.attention) for p in attention] == [(detail["patient"]["id"], "phone-invalid")]
    assert not reminders(app, status="pending")


@pytest.mark.parametrize("code", [20429, 21611], ids=["429", "queue-full"])
def test_a_refused_request_is_retried_with_backoff_and_sent_once_twilio_recovers(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock, code: int
) -> None:
    fake_twilio.script(PHONE, code=code, times=2)
    enrol(app, "2026-03-09 10:00")
    assert dispatcher.drain().retry == 1
    welcome = reminders(app, kind="welcome")[0]
    assert welcome.status == "pending"
    assert welcome.due_at > clock.now()
    assert dispatcher.drain().claimed == 0  # not before the backoff has passed
    clock.advance(timedelta(minutes=1))
    assert dispatcher.drain().retry == 1
    clock.advance(timedelta(minutes=2))
    assert dispatcher.drain().sent == 1
    assert len(fake_twilio.messages) == 1
    assert reminders(app, kind="welcome")[0].attempts == 3


def test_a_500_is_held_as_unknown_then_sent_once_after_reconciliation(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    dispatcher = make_dispatcher()
    fake_twilio.script(PHONE, status=500, times=1)
    enrol(app, "2026-03-09 10:00")
    assert dispatcher.drain().unknown == 1
    assert reminders(app, kind="welcome")[0].status == "unknown"
    assert dispatcher.drain().claimed == 0  # never resent blindly
    clock.advance(timedelta(minutes=3))
    assert dispatcher.reconcile().retry == 1  # Twilio has no such message: send again
    assert dispatcher.drain().sent == 1
    assert len(fake_twilio.messages) == 1
    assert fake_twilio.attempts_to(PHONE) == 2


def test_a_slow_reply_is_unknown_and_the_reconciler_finds_the_message_without_resending(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    fake_twilio.script(PHONE, delay=1.5, created=True, times=1)
    enrol(app, "2026-03-09 10:00")
    assert dispatcher.drain().unknown == 1
    clock.advance(timedelta(minutes=3))
    assert dispatcher.reconcile().sent == 1
    welcome = reminders(app, kind="welcome")[0]
    assert welcome.status == "sent"
    assert welcome.provider_sid == fake_twilio.messages[0]["sid"]
    dispatcher.drain()
    assert fake_twilio.attempts_to(PHONE) == 1
    assert len(fake_twilio.messages) == 1


def test_a_send_interrupted_by_a_crash_is_looked_up_before_it_is_sent_again(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app, "2026-03-09 10:00")
    # The crashed worker claimed the text, recorded its attempt and reached Twilio, then died.
    with pytest.raises(WorkerDied):
        make_dispatcher("worker-crashed", wrap=DiesAfterSending).drain()
    assert len(fake_twilio.messages) == 1
    clock.advance(timedelta(minutes=6))  # the lease ran out
    survivor = make_dispatcher("worker-b")
    assert survivor.drain().sent == 1
    assert len(fake_twilio.messages) == 1
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.claimed_by) == ("sent", None)


def test_a_claim_whose_worker_died_before_sending_is_taken_again(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app, "2026-03-09 10:00")
    with pytest.raises(WorkerDied):
        make_dispatcher("worker-crashed", wrap=DiesBeforeSending).drain()
    survivor = make_dispatcher("worker-b")
    assert survivor.drain().claimed == 0  # the lease still holds
    clock.advance(timedelta(minutes=6))
    assert survivor.drain().sent == 1
    assert len(fake_twilio.messages) == 1


@pytest.mark.parametrize("change", ["pause", "cancel", "reschedule"])
def test_a_text_claimed_before_a_change_is_not_sent(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock, change: str
) -> None:
    detail = enrol(app, "2026-03-09 10:00")
    dispatcher.drain()  # the welcome
    fake_twilio.reset()
    clock.set(datetime.fromisoformat("2026-03-06T15:00:00+00:00"))  # the confirm is due
    reminder_ids = dispatcher.claim()
    assert reminder_ids
    clinic = app.clinic("test")
    if change == "pause":
        clinic.pause(detail["patient"]["id"])
    elif change == "cancel":
        clinic.cancel(detail["appointments"][0]["id"])
    else:
        clinic.reschedule(detail["appointments"][0]["id"], "2026-03-10 15:00")
    counts = dispatcher.send_claimed(reminder_ids)
    assert counts.skipped == len(reminder_ids)
    assert fake_twilio.attempts == []
    reasons = {r.reason for r in reminders(app) if r.id in reminder_ids}
    expected = {"pause": "patient-paused", "cancel": "session-cancelled", "reschedule": "rescheduled"}
    assert reasons == {expected[change]}


def test_bad_credentials_halt_sending_without_burning_attempts(
    app: App, make_dispatcher: DispatcherFactory, fake_twilio: FakeTwilio
) -> None:
    enrol(app, "2026-03-09 10:00")
    dispatcher = make_dispatcher(auth_token="wrong-token")
    counts = dispatcher.drain()
    assert counts.sent == 0
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.attempts) == ("pending", 0)
    assert dispatcher.drain().claimed == 0  # halted


def test_a_send_that_keeps_failing_ends_as_failed(
    app: App, make_dispatcher: DispatcherFactory, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    fake_twilio.script(PHONE, code=20429)
    enrol(app, "2026-03-09 10:00")
    dispatcher = make_dispatcher()
    for _ in range(6):
        dispatcher.drain()
        clock.advance(timedelta(hours=1))
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.reason, welcome.attempts) == ("failed", "too-many-attempts", 5)
    assert fake_twilio.attempts_to(PHONE) == 5


def test_each_attempt_is_a_message_row(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    fake_twilio.script(PHONE, code=20429, times=1)
    enrol(app, "2026-03-09 10:00")
    dispatcher.drain()
    clock.advance(timedelta(minutes=5))
    dispatcher.drain()
    rows = [(m.status, m.error_code) for m in messages(app)]
    assert rows == [("failed", 20429), ("queued", None)]


def test_an_interrupted_send_that_went_out_counts_as_sent_even_after_a_pause(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app, "2026-03-09 10:00")
    with pytest.raises(WorkerDied):  # reached Twilio, then the worker died
        make_dispatcher("worker-crashed", wrap=DiesAfterSending).drain()
    app.clinic("test").pause(detail["patient"]["id"])
    clock.advance(timedelta(minutes=6))
    make_dispatcher("worker-b").drain()
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.provider_sid) == ("sent", fake_twilio.messages[0]["sid"])
    assert [m.status for m in messages(app)] == ["queued"]


def test_a_failure_report_that_overtakes_the_send_response_is_not_lost(
    app: App, make_dispatcher: DispatcherFactory, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app, "2026-03-09 10:00")
    reports = DeliveryReports(app.settings, app.protocols, app.database, clock)

    def report_first(sms: OutgoingSms, receipt: SendReceipt) -> None:
        # The carrier's answer arrives before Twilio's answer to the send itself, at the status
        # callback URL the text was sent with.
        assert sms.status_callback is not None
        message_id = int(parse_qs(urlsplit(sms.status_callback).query)["message_id"][0])
        assert reports.apply(DeliveryReport("undelivered", message_id, receipt.provider_sid, 30005))

    def overtaken(inner: SmsSender) -> SmsSender:
        return AfterSending(inner, report_first)

    assert make_dispatcher(wrap=overtaken).drain().sent == 1
    welcome = reminders(app, kind="welcome")[0]
    assert (welcome.status, welcome.reason, welcome.error_code) == ("failed", "phone-invalid", 30005)
    flagged = app.clinic("test").patients("attention")
    assert [p.id for p in flagged] == [detail["patient"]["id"]]


def test_a_drain_that_runs_out_of_time_says_more_is_due(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio
) -> None:
    enrol(app, "2026-03-09 10:00", phone="+12015550123")
    enrol(app, "2026-03-09 10:00", phone="+12015550124")
    dispatcher = make_dispatcher(batch_size=1)
    # A tick sends one round at least, however little time it has.
    out_of_time = dispatcher.drain(budget_seconds=0.0)
    assert (out_of_time.sent, out_of_time.backlog) == (1, True)
    finished = dispatcher.drain()
    assert (finished.sent, finished.backlog) == (1, False)


def test_a_21610_on_send_and_in_a_delivery_report_leave_the_same_patient_and_audit_entry(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    on_send = enrol(app, "2026-03-09 10:00", phone="+12015550123")["patient"]["id"]
    reported = enrol(app, "2026-03-09 10:00", phone="+12015550124")["patient"]["id"]
    fake_twilio.script("+12015550123", code=21610)  # Twilio refuses: the number replied STOP
    assert dispatcher.drain().sent == 1
    # The other welcome was taken, then the Messaging Service reported the opt-out.
    [message] = [m for m in messages(app) if m.patient_id == reported]
    reports = DeliveryReports(app.settings, app.protocols, app.database, clock)
    assert reports.apply(DeliveryReport("failed", message.id, message.provider_sid, 21610))

    def outcome(patient_id: int) -> tuple[object, ...]:
        texts = {(r.kind, r.status, r.reason) for r in reminders(app, patient_id=patient_id)}
        with UnitOfWork(app.database) as uow:
            patient = uow.db.get(Patient, patient_id)
            assert patient is not None
            entries = uow.db.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient_id))
            audit = [(e.actor, e.action, e.details) for e in entries if e.action != "enrol"]
            return patient.opted_out_at, patient.status, patient.attention, audit, texts

    assert outcome(on_send) == outcome(reported)
    opted_out_at, status, _attention, audit, texts = outcome(on_send)
    assert (opted_out_at, status) == (clock.now(), "active")
    assert audit == [("provider", "opt-out", {"code": 21610})]
    assert isinstance(texts, set)
    assert isinstance(texts, set)
    assert ("welcome", "failed", "opted-out") in texts
    assert {reason for _kind, state, reason in texts if state == "cancelled"} == {"opted-out"}


def test_a_worker_told_to_stop_hands_its_claimed_texts_back_unsent(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio
) -> None:
    for n in range(2):
        enrol(app, "2026-03-09 10:00", phone=f"+1201555016{n}")
    dispatcher = make_dispatcher()
    claimed = dispatcher.claim()
    dispatcher.stop()
    counts = dispatcher.send_claimed(claimed)
    assert (counts.sent, counts.returned) == (0, 2)
    assert fake_twilio.messages == []
    assert {(r.status, r.claimed_by) for r in reminders(app, kind="welcome")} == {("pending", None)}


def test_a_batch_that_outlasts_half_its_lease_gives_its_unsent_texts_back(
    make_dispatcher: DispatcherFactory,
    app: App,
    fake_twilio: FakeTwilio,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A provider that stalls mid-batch: the texts not yet sent when half their lease has gone are
    not sent by this batch (another worker could take them once it runs out); they go back to wait,
    and each patient still gets their welcome once."""
    phones = [f"+1201555014{n}" for n in range(3)]
    for phone in phones:
        enrol(app, "2026-03-09 10:00", phone=phone)

    def stall(_sms: OutgoingSms, _receipt: SendReceipt) -> None:
        clock.advance(app.settings.claim_lease / 2)

    stalled = make_dispatcher(threads=1, wrap=lambda inner: AfterSending(inner, stall))
    with caplog.at_level(logging.WARNING, logger="scheduler.dispatch"):
        first = stalled.send_claimed(stalled.claim())
    assert (first.claimed, first.sent, first.returned) == (0, 1, 2)  # one went out, then it stopped
    assert len(fake_twilio.messages) == 1
    assert "given back unsent for the next claim, as half a claim's lease went by" in caplog.text
    assert caplog.text.rstrip().endswith(": 2")
    assert not any(phone in caplog.text for phone in phones)
    given_back = [r for r in reminders(app, kind="welcome") if r.status == "pending"]
    assert len(given_back) == 2
    assert all(r.claimed_by is None for r in given_back)

    rest = make_dispatcher(worker="worker-b").drain()
    assert rest.sent == 2
    assert sorted(m["to"] for m in fake_twilio.messages) == sorted(phones)
    assert {m.status for m in messages(app)} >= {"not-sent"}


def test_a_patient_whose_message_went_back_gets_no_later_one_before_it(
    make_dispatcher: DispatcherFactory, app: App, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    """The batch after a stalled one was claimed later, so its lease has time left; the patient's
    next text in it still waits behind the welcome that went back unsent."""
    enrol(app, "2026-03-09 10:00", phone="+12015550150")  # a welcome, due now
    clock.advance(timedelta(minutes=1))
    enrol(app, "2026-03-04 08:00", phone=PHONE)  # a welcome and a prep text, due a minute later
    claimed_at = clock.now()

    def stall(_sms: OutgoingSms, _receipt: SendReceipt) -> None:
        clock.set(claimed_at + app.settings.claim_lease / 2)  # the first batch's half lease is gone

    dispatcher = make_dispatcher(threads=1, wrap=lambda inner: AfterSending(inner, stall))
    first = dispatcher.claim(2)
    clock.advance(timedelta(minutes=1))
    second = dispatcher.claim(1)
    by_id = {r.id: r for r in reminders(app)}
    assert [(by_id[i].kind, by_id[i].patient_id) for i in first + second] == [
        ("welcome", 1), ("welcome", 2), ("prep", 2)
    ]  # fmt: skip

    counts = Counts()
    with ThreadPoolExecutor(1) as pool:
        pipeline = BatchPipeline(dispatcher.ctx, pool)
        try:
            pipeline.finish(pipeline.launch(second, counts, after=pipeline.launch(first, counts)), counts)
        finally:
            pipeline.close()
    assert [m["to"] for m in fake_twilio.messages] == ["+12015550150"]
    assert counts.returned == 2  # the welcome, then the prep text held behind it
    assert {(r.kind, r.status) for r in reminders(app, patient_id=2)} >= {
        ("welcome", "pending"),
        ("prep", "pending"),
    }


@pytest.mark.parametrize(
    ("latency", "left", "size"),
    [
        (0.004, 12.0, 250),  # a quick provider: the most a batch holds
        (0.1, 12.0, 100),  # 2.5 s of sends on 4 threads: workers share a backlog in small parts
        (0.5, 12.0, 20),
        (7.0, 12.0, 4),  # slower than a batch's span: one round
        (7.0, 5.0, 0),  # not one more round fits in the tick
    ],
)
def test_a_batch_is_what_its_threads_send_in_a_few_seconds(
    make_dispatcher: DispatcherFactory, latency: float, left: float, size: int
) -> None:
    dispatcher = make_dispatcher(threads=4)
    dispatcher.ctx.latency.observe(latency)
    assert dispatcher.batch_size(left, first=False) == size
    assert dispatcher.batch_size(left, first=True) == max(size, 4)


def test_the_rate_limit_keeps_a_batch_to_a_few_seconds_of_sends(make_dispatcher: DispatcherFactory) -> None:
    dispatcher = make_dispatcher(threads=4)
    dispatcher.ctx.settings = replace(dispatcher.ctx.settings, send_rate_per_second=10.0)
    dispatcher.ctx.latency.observe(0.1)
    assert dispatcher.batch_size(12.0) == 25  # 2.5 s at 10 a second, not the tick's 120
