"""The text plan as the patient lives it, through the dispatcher and the real twilio-python: texts of
a day share one message, changes are announced once, stale texts expire, and the daily limit holds
at the moment of sending after a pause, an outage or a reschedule."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import select, update

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.domain.timeutil import zone
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.replies import Replies
from scheduler.store.models import Appointment, Reminder
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock
from tests.support.fake_twilio import FakeTwilio

NY = zone("America/New_York")
PHONE = "+12015550123"
# The clock fixture stands at Tue 2026-03-03 09:00 in New York; the course starts Mon 9 March.
FIRST = "2026-03-09 10:00"


def enrol(app: App, first: str = FIRST) -> dict[str, Any]:
    request = EnrolRequest("Ana Lima", PHONE, "America/New_York", "iv-6x-mwf", first, "intake-form")
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(request))
    return detail


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def live_until(
    clock: FrozenClock, dispatcher: Dispatcher, until: str, step: timedelta = timedelta(minutes=30)
) -> None:
    """Let the worker tick every `step` until the local time `until`."""
    end = local(until)
    while clock.now() < end:
        dispatcher.drain()
        clock.advance(step)
    dispatcher.drain()


def sent(fake: FakeTwilio) -> list[tuple[datetime, str]]:
    """Every message the patient got: its local time and its words."""
    return [
        (parsedate_to_datetime(m["date_created"]).astimezone(NY), m["body"])
        for m in fake.messages
        if m["to"] == PHONE
    ]


def per_day(messages: list[tuple[datetime, str]]) -> Counter[date]:
    """Messages a day that count towards the limit (the welcome and notices alone do not)."""
    return Counter(
        at.date() for at, body in messages if "signed up" not in body and not body.endswith("is cancelled.")
    )


def statuses(app: App, **where: object) -> list[tuple[str, str, str | None]]:
    with UnitOfWork(app.database) as uow:
        query = select(Reminder).order_by(Reminder.id)
        for name, value in where.items():
            query = query.where(getattr(Reminder, name) == value)
        return [(r.kind, r.status, r.reason) for r in uow.db.scalars(query)]


def test_the_first_week_reads_as_the_plan_says_one_message_a_day(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app)
    live_until(clock, dispatcher, "2026-03-14 20:00")
    messages = sent(fake_twilio)
    assert max(per_day(messages).values()) == 1
    by_day = {at.strftime("%a %d %H:%M"): body for at, body in messages}
    assert by_day["Fri 06 10:00"].startswith("Oak St Clinic: Your visit is Mon, Mar 9 at 10 AM. Reply C")
    assert "See you Mon, Mar 9 at 10 AM" in by_day["Sun 08 10:00"]
    assert by_day["Mon 09 09:00"].startswith("Oak St Clinic: Today at 10 AM.")  # two hours before: 8 AM
    # The day after the first session: the check-in and Wednesday's preparation, asking for C.
    tuesday = by_day["Tue 10 10:00"]
    assert tuesday.startswith("Oak St Clinic: Checking in: take it easy today.")
    assert "See you Wed, Mar 11 at 10 AM." in tuesday
    assert tuesday.endswith("Reply C to confirm or R to change.")
    assert "See you Fri, Mar 13 at 10 AM" in by_day["Thu 12 10:00"]
    assert ("check-in", "sent", None) in statuses(app, kind="check-in")


def test_a_moved_session_is_announced_once_and_its_old_times_texts_never_go(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    second = detail["appointments"][1]["id"]
    live_until(clock, dispatcher, "2026-03-04 12:00")
    app.clinic("staff").reschedule(second, "2026-03-12 15:30")
    live_until(clock, dispatcher, "2026-03-13 20:00")
    bodies = [body for _, body in sent(fake_twilio)]
    assert sum("Your visit has moved to Thu, Mar 12 at 3:30 PM." in b for b in bodies) == 1
    assert not any("Wed, Mar 11" in b for b in bodies)
    assert max(per_day(sent(fake_twilio)).values()) == 1
    with UnitOfWork(app.database) as uow:
        old = uow.db.scalars(
            select(Reminder).where(
                Reminder.appointment_id == second, Reminder.plan_key.startswith(f"a{second}.0:")
            )
        ).all()
        assert {(r.status, r.reason) for r in old if r.kind != "confirm"} == {("cancelled", "rescheduled")}


def test_a_newer_change_supersedes_a_notice_not_yet_sent(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    second = detail["appointments"][1]["id"]
    clock.set(local("2026-03-04 21:30"))  # evening: notices wait for the morning
    app.clinic("staff").reschedule(second, "2026-03-12 15:30")
    app.clinic("staff").reschedule(second, "2026-03-12 17:00")
    live_until(clock, dispatcher, "2026-03-05 12:00")
    notices = [body for _, body in sent(fake_twilio) if "moved" in body]
    assert notices == ["Oak St Clinic: Your visit has moved to Thu, Mar 12 at 5 PM."]
    assert ("notice", "cancelled", "rescheduled") in statuses(app, appointment_id=second)


def test_a_cancelled_session_is_announced_once(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    third = detail["appointments"][2]["id"]
    live_until(clock, dispatcher, "2026-03-04 10:00")
    app.clinic("staff").cancel(third)
    live_until(clock, dispatcher, "2026-03-13 20:00")
    bodies = [body for _, body in sent(fake_twilio)]
    assert bodies.count("Oak St Clinic: Your visit on Fri, Mar 13 at 10 AM is cancelled.") == 1
    assert not any("See you Fri, Mar 13" in b for b in bodies)


def test_after_a_pause_and_resume_a_stale_confirm_is_covered_by_the_preparation_text(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    patient = detail["patient"]["id"]
    live_until(clock, dispatcher, "2026-03-05 12:00")  # the welcome only
    app.clinic("staff").pause(patient)
    clock.set(local("2026-03-08 14:00"))  # the confirm (Fri) and the prep (Sun 10:00) were held
    app.clinic("staff").resume(patient)
    live_until(clock, dispatcher, "2026-03-08 20:00")
    sunday = [body for at, body in sent(fake_twilio) if at.day == 8]
    assert len(sunday) == 1
    assert sunday[0].startswith("Oak St Clinic: See you Mon, Mar 9 at 10 AM.")
    assert sunday[0].endswith("Reply C to confirm or R to change.")
    first = detail["appointments"][0]["id"]
    assert ("confirm", "expired", "superseded") in statuses(app, appointment_id=first)


def test_after_an_outage_each_patient_gets_one_message_and_stale_texts_expire(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app)
    dispatcher.drain()  # the welcome; then the worker is down until Monday 09:20
    clock.set(local("2026-03-09 09:20"))
    dispatcher.drain()
    monday = [body for at, body in sent(fake_twilio) if at.day == 9]
    # The confirm request never went, so the nudge asks for C: staff still learn who is coming.
    assert monday == [
        "Oak St Clinic: Today at 10 AM. Please come 15 min early in comfy clothes, with your ride home "
        "arranged. Running late? Call (201) 555-0100. Reply C to confirm or R to change."
    ]
    texts = statuses(app, appointment_id=1)
    assert ("confirm", "expired", "too-late") in texts
    assert ("prep", "expired", "too-late") in texts


def test_when_the_days_message_already_went_a_late_text_waits_for_the_next_day(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    enrol(app)
    live_until(clock, dispatcher, "2026-03-10 15:00")  # Tuesday's check-in and prep went at 10:00
    with UnitOfWork(app.database) as uow:  # a text that comes due later the same day
        uow.db.execute(
            update(Reminder)
            .where(Reminder.kind == "confirm", Reminder.appointment_id == 4)
            .values(status="pending", reason=None, due_at=clock.now())
        )
        uow.commit()
    counts = dispatcher.drain()
    assert counts.deferred == 1
    live_until(clock, dispatcher, "2026-03-11 20:00")
    days = per_day(sent(fake_twilio))
    assert days[date(2026, 3, 10)] == 1
    assert any("Your visit is Mon, Mar 16" in body for at, body in sent(fake_twilio) if at.day == 11)


def test_a_notice_is_not_held_back_by_the_daily_limit_and_carries_the_new_preparation(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    second = detail["appointments"][1]["id"]
    live_until(clock, dispatcher, "2026-03-10 17:30")  # Tuesday's message went at 10:00
    app.clinic("staff").reschedule(second, "2026-03-11 17:00")  # its new prep was due at 17:00
    dispatcher.drain()
    tuesday = [body for at, body in sent(fake_twilio) if at.day == 10]
    assert len(tuesday) == 2
    assert tuesday[1] == (
        "Oak St Clinic: Your visit has moved to Wed, Mar 11 at 5 PM. See you Wed, Mar 11 at 5 PM. No "
        "food 6h before; clear drinks until 2h before. Get a ride home: no driving until the day "
        "after. Reply C to confirm or R to change."
    )


def test_a_c_confirms_the_session_the_last_text_asked_about(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    detail = enrol(app)
    first, second = (a["id"] for a in detail["appointments"][:2])
    app.clinic("staff").reschedule(second, "2026-03-10 18:00")  # the evening after session 1
    live_until(clock, dispatcher, "2026-03-09 09:30")
    monday = [body for at, body in sent(fake_twilio) if at.day == 9]
    assert len(monday) == 1  # the day-of nudge for session 1 and session 2's preparation
    assert "Today at 10 AM" in monday[0]
    assert "See you Tue, Mar 10 at 6 PM" in monday[0]
    replies = Replies(app.settings, app.protocols, app.database, clock)
    answer = replies.receive(PHONE, "C", "SM-c-1")
    assert answer == "Oak St Clinic: Thanks, you're confirmed for Tue, Mar 10 at 6 PM."
    with UnitOfWork(app.database) as uow:
        confirmed = {a.id: a.status for a in uow.db.scalars(select(Appointment))}
    assert (confirmed[first], confirmed[second]) == ("scheduled", "confirmed")
