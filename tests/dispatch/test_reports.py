"""The weekly report against a clinic's five weeks, lived through by the real services and the
dispatcher (real twilio-python to the fake Twilio) on a frozen clock: sessions attended and
missed, confirmations by reply, a STOP, a carrier opt-out, an outage that lets texts expire, a
daylight-saving change (Sunday 8 March 2026 in New York). Every figure is checked against counts
made here in Python from the rows themselves, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.services import EnrolRequest
from scheduler.services.replies import Replies
from scheduler.store.models import Appointment, AuditEntry, Reminder
from scheduler.store.uow import UnitOfWork
from scheduler.web.admin.reports import charts
from tests.support import FrozenClock, utc
from tests.support.fake_twilio import FakeTwilio

NEW_YORK = ZoneInfo("America/New_York")  # the clinic's zone (the default CLINIC_TIMEZONE)
PHONES = [f"+1201555{n:04d}" for n in range(140, 146)]
FIRSTS = ["2026-03-04 10:00", "2026-03-06 11:00", "2026-03-09 10:30", "2026-03-13 14:00", "2026-03-16 09:30",
          "2026-03-20 15:00"]  # fmt: skip
STOPS = PHONES[2]  # replies STOP in the second week
REFUSED = PHONES[5]  # the carrier says 21610: failed, and opted out
OUTAGE = (date(2026, 3, 24), date(2026, 3, 25))  # no worker ran on these days


def clinic_week(instant: datetime) -> date:
    day = instant.astimezone(NEW_YORK).date()
    return day - timedelta(days=day.weekday())


def live_five_weeks(app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock) -> None:
    clinic = app.clinic("test")
    replies = Replies(app.settings, app.protocols, app.database, app.clock)
    fake_twilio.script(REFUSED, code=21610)
    ids = {}
    for n, (phone, first) in enumerate(zip(PHONES, FIRSTS, strict=True)):
        detail = clinic.enrol(
            EnrolRequest(f"Patient {n}", phone, "America/New_York", "iv-6x-mwf", first, "form")
        )
        ids[phone] = detail.patient.id
    day = date(2026, 3, 3)
    sid = 0
    for n in range(36):
        today = day + timedelta(days=n)
        clock.set(datetime(today.year, today.month, today.day, 10, tzinfo=NEW_YORK))
        if today not in OUTAGE:
            dispatcher.drain()
        # Two in three answer C to a confirm request the day it arrives.
        asked = asked_today(app, clock.now())
        clock.set(datetime(today.year, today.month, today.day, 12, tzinfo=NEW_YORK))
        for k, phone in enumerate(PHONES):
            if ids[phone] in asked and (k + n) % 3 != 0:
                sid += 1
                replies.receive(phone, "C", f"SMreply{sid}")
        if today == date(2026, 3, 11):
            replies.receive(STOPS, "STOP", "SMstop")
        clock.set(datetime(today.year, today.month, today.day, 20, tzinfo=NEW_YORK))
        with UnitOfWork(app.database) as uow:
            over = uow.db.execute(
                select(Appointment.id, Appointment.number, Appointment.patient_id).where(
                    Appointment.status.in_(("scheduled", "confirmed")), Appointment.starts_at <= clock.now()
                )
            ).all()
        for appointment_id, number, patient_id in over:
            missed = (number + patient_id) % 4 == 0
            clinic.outcome(appointment_id, "missed" if missed else "attended")
            if missed:
                clinic.resume(patient_id)  # staff look at it and carry on with the course


def asked_today(app: App, since: datetime) -> set[int]:
    """The patients sent a confirm request since `since`."""
    with UnitOfWork(app.database) as uow:
        return set(
            uow.db.scalars(
                select(Reminder.patient_id).where(
                    Reminder.kind == "confirm", Reminder.status == "sent", Reminder.sent_at >= since
                )
            )
        )


def expected_figures(app: App) -> dict[date, Counter[str]]:
    """Every figure, counted in Python from the rows."""
    figures: dict[date, Counter[str]] = {}
    with UnitOfWork(app.database) as uow:
        sessions = list(uow.db.scalars(select(Appointment)))
        texts = list(uow.db.scalars(select(Reminder)))
        opt_outs = list(uow.db.scalars(select(AuditEntry).where(AuditEntry.action == "opt-out")))
    asked = {r.appointment_id for r in texts if r.kind == "confirm" and r.status in ("sent", "delivered")}
    for a in sessions:
        week = figures.setdefault(clinic_week(a.starts_at), Counter())
        if a.status in ("attended", "missed"):
            week[a.status] += 1
        if a.id in asked and a.status != "cancelled":
            week["confirm_requests"] += 1
            week["confirmed"] += a.confirmed_at is not None
    for entry in opt_outs:
        figures.setdefault(clinic_week(entry.at), Counter())["opt_outs"] += 1
    for r in texts:
        if r.status in ("failed", "expired"):
            figures.setdefault(clinic_week(r.due_at), Counter())[f"texts_{r.status}"] += 1
    return figures


def test_the_weekly_figures_match_the_rows_they_count(
    app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    live_five_weeks(app, dispatcher, fake_twilio, clock)
    clock.set(utc(2026, 4, 8, 15))  # Wednesday 8 April
    report = app.reports("test").weekly()

    mondays = [w.week_start for w in report.weeks]
    assert mondays == [date(2026, 1, 19) + timedelta(days=7 * n) for n in range(12)]
    assert report.timezone == "America/New_York"
    expected = expected_figures(app)
    for w in report.weeks:
        want = expected.get(w.week_start, Counter())
        got = (
            w.attended,
            w.missed,
            w.confirm_requests,
            w.confirmed,
            w.opt_outs,
            w.texts_failed,
            w.texts_expired,
        )
        names = (
            "attended",
            "missed",
            "confirm_requests",
            "confirmed",
            "opt_outs",
            "texts_failed",
            "texts_expired",
        )
        assert got == tuple(want[name] for name in names), w.week_start
        rate = want["confirmed"] / want["confirm_requests"] if want["confirm_requests"] else None
        assert w.confirmation_rate == rate
    # The history has something in every figure, across several weeks.
    totals = Counter[str]()
    for counts in expected.values():
        totals.update(counts)
    assert totals["attended"] >= 20
    assert totals["missed"] >= 3
    assert totals["opt_outs"] == 2  # the STOP and the carrier's 21610
    assert totals["texts_failed"] >= 1
    assert totals["texts_expired"] >= 1
    assert 0 < totals["confirmed"] < totals["confirm_requests"]
    assert sum(1 for w in report.weeks if w.attended) >= 4
    # Sessions before the report's first week are not in it; ahead of the last, neither.
    assert all(
        date(2026, 1, 19) <= week < date(2026, 4, 13) for week in expected if expected[week]["attended"]
    )

    # The charts carry the same figures, week by week.
    svgs = dict(charts(report))
    sessions_svg = str(svgs["Sessions attended and missed"])
    for w in report.weeks:
        label = f"{w.week_start:%b} {w.week_start.day}"
        assert f"Attended, week of {label}: {w.attended}</title>" in sessions_svg
        assert f"Missed, week of {label}: {w.missed}</title>" in sessions_svg
        assert f"Opt-outs, week of {label}: {w.opt_outs}</title>" in str(svgs["Opt-outs"])
        texts_svg = str(svgs["Texts failed or expired"])
        assert f"Failed, week of {label}: {w.texts_failed}</title>" in texts_svg
        assert f"Expired, week of {label}: {w.texts_expired}</title>" in texts_svg
        shown = "–" if w.confirmation_rate is None else f"{100 * w.confirmation_rate:.0f}%"
        assert f"Confirmed, week of {label}: {shown}</title>" in str(svgs["Confirmation rate"])


def test_a_week_across_the_change_to_summer_time_ends_at_the_clinics_midnight(
    app: App, clock: FrozenClock
) -> None:
    """Monday 9 March 2026 00:00 in New York is 04:00 UTC (EDT); a session at 03:30 UTC that Monday
    is still Sunday evening in New York, so it belongs to the week of 2 March."""
    clinic = app.clinic("test")
    late_sunday = clinic.enrol(
        EnrolRequest("A", PHONES[0], "America/Los_Angeles", "touch-up-only", "2026-03-08 20:30", "form")
    )  # fmt: skip  (03:30 UTC Monday)
    monday = clinic.enrol(
        EnrolRequest("B", PHONES[1], "America/New_York", "touch-up-only", "2026-03-09 00:30", "form")
    )
    clock.set(utc(2026, 3, 9, 12))
    for detail in (late_sunday, monday):
        clinic.outcome(detail.appointments[0].id, "attended")
    report = app.reports("test").weekly(weeks=2, until=date(2026, 3, 10))
    assert [(w.week_start, w.attended) for w in report.weeks] == [
        (date(2026, 3, 2), 1),
        (date(2026, 3, 9), 1),
    ]
