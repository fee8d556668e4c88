"""The reminder plan: lead times, the send window, the daily limit, deadlines and skips."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.plan import Notice, PlanContext, PlannedReminder, Session, plan_reminders, plan_welcome
from scheduler.domain.states import NoticeKind, ReminderKind, SessionKind
from scheduler.domain.templates import Voice
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.domain.window import SendWindow

NY = zone("America/New_York")
WINDOW = SendWindow(time(9, 0), time(20, 0))
VOICE = Voice("Oak St Clinic", "(201) 555-0100", "911", "call or text 988")
CONTEXT = PlanContext(NY, WINDOW, 1, VOICE)


def plan(
    sessions: list[Session],
    tz: ZoneInfo = NY,
    window: SendWindow = WINDOW,
    daily_limit: int = 1,
) -> list[PlannedReminder]:
    return plan_reminders(sessions, PlanContext(tz, window, daily_limit, VOICE)).reminders


def at(wall: str, tz_name: str = "America/New_York") -> datetime:
    return to_utc(datetime.fromisoformat(wall), zone(tz_name))


def session(
    appointment_id: int,
    starts: str,
    *,
    booked: str = "2026-02-01 12:00",
    kind: str = "induction",
    number: int | None = None,
    tz_name: str = "America/New_York",
    confirmed: bool = False,
    revision: int = 0,
    notice: Notice | None = None,
    cancelled: bool = False,
) -> Session:
    return Session(
        appointment_id=appointment_id,
        revision=revision,
        kind=SessionKind(kind),
        number=number if number is not None else appointment_id,
        starts_at=at(starts, tz_name),
        booked_at=at(booked, tz_name),
        confirmed=confirmed,
        cancelled=cancelled,
        notice=notice,
    )


def by_kind(
    planned: list[PlannedReminder], appointment_id: int, tz_name: str = "America/New_York"
) -> dict[str, tuple[str, str, str | None]]:
    tz = zone(tz_name)
    return {
        r.kind.value: (f"{to_local(r.due_at, tz):%Y-%m-%d %H:%M}", r.status, r.reason)
        for r in planned
        if r.appointment_id == appointment_id
    }


def test_a_single_first_session_gets_every_kind_of_text() -> None:
    planned = plan([session(1, "2026-03-12 14:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1) == {
        "confirm": ("2026-03-09 14:00", "pending", None),
        "prep": ("2026-03-11 14:00", "pending", None),
        "day-of": ("2026-03-12 12:00", "pending", None),
        "check-in": ("2026-03-13 10:00", "pending", None),
    }


def test_a_text_due_at_seven_moves_to_the_evening_before() -> None:
    # prep 24 h before a 07:00 session is due at 07:00 the day before: the evening before that.
    planned = plan([session(1, "2026-03-12 07:00")], NY, WINDOW, daily_limit=2)
    assert by_kind(planned, 1)["prep"] == ("2026-03-10 19:30", "pending", None)


@pytest.mark.parametrize(
    ("starts", "expected"),
    [
        ("2026-03-12 14:00", ("2026-03-12 12:00", "pending", None)),  # two hours before
        ("2026-03-12 10:00", ("2026-03-12 09:00", "pending", None)),  # at the opening, an hour before
        ("2026-03-12 09:30", ("2026-03-12 09:00", "pending", None)),  # at the opening, 30 min before
        ("2026-03-12 09:29", ("2026-03-12 09:00", "skipped", "outside-window")),  # too close
        ("2026-03-12 08:00", ("2026-03-12 09:00", "skipped", "outside-window")),  # before it opens
        ("2026-03-12 22:30", ("2026-03-12 19:30", "pending", None)),  # after it closes
    ],
    ids=["afternoon", "ten", "half-nine", "nine-twenty-nine", "eight", "late-evening"],
)
def test_the_day_of_nudge_goes_two_hours_before_or_at_the_opening_if_still_useful(
    starts: str, expected: tuple[str, str, str | None]
) -> None:
    planned = plan([session(1, starts)], daily_limit=3)
    assert by_kind(planned, 1)["day-of"] == expected


def test_a_text_due_after_the_window_closes_moves_earlier_the_same_day() -> None:
    # prep 24 h before a 21:00 session is due 21:00 the day before: moved to 19:30.
    planned = plan([session(1, "2026-03-12 21:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1)["prep"] == ("2026-03-11 19:30", "pending", None)


def test_a_check_in_is_never_sent_before_the_window_opens() -> None:
    early = SendWindow(time(11, 0), time(20, 0))
    planned = plan([session(1, "2026-03-12 14:00")], NY, early, daily_limit=1)
    assert by_kind(planned, 1)["check-in"] == ("2026-03-13 11:00", "pending", None)


def test_two_texts_on_one_day_share_one_message_at_the_first_ones_time() -> None:
    # The check-in after session 1 (10:00) and the prep for session 2 (14:00) both fall on Tuesday.
    both = plan_reminders([session(1, "2026-03-09 14:00"), session(2, "2026-03-11 14:00")], CONTEXT)
    assert by_kind(both.reminders, 2)["prep"] == ("2026-03-10 10:00", "pending", None)
    assert by_kind(both.reminders, 1)["check-in"] == ("2026-03-10 10:00", "pending", None)
    [tuesday] = [m for m in both.messages if to_local(m.due_at, NY).day == 10]
    assert [(p.kind, p.appointment_id, p.asks) for p in tuesday.parts] == [
        ("check-in", 1, False),
        ("prep", 2, True),  # its confirm request is skipped (session 1 lies between): the prep asks
    ]


def test_a_higher_daily_limit_sends_them_apart() -> None:
    planned = plan([session(1, "2026-03-09 14:00"), session(2, "2026-03-11 14:00")], daily_limit=2)
    assert by_kind(planned, 2)["prep"] == ("2026-03-10 14:00", "pending", None)
    assert by_kind(planned, 1)["check-in"] == ("2026-03-10 10:00", "pending", None)


def test_at_most_the_daily_limit_of_messages_on_any_local_day() -> None:
    sessions = [session(i + 1, f"2026-03-{d:02d} 10:00") for i, d in enumerate((9, 11, 13, 16))]
    messages = plan_reminders(sessions, CONTEXT).messages
    days = [to_local(m.due_at, NY).date() for m in messages]
    assert len(days) == len(set(days))


def test_confirm_is_skipped_when_the_session_was_booked_later_than_it_was_due() -> None:
    planned = plan([session(1, "2026-03-12 14:00", booked="2026-03-10 12:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1)["confirm"][1:] == ("skipped", "booked-late")


def test_prep_is_sent_at_booking_when_booked_inside_24_hours() -> None:
    planned = plan([session(1, "2026-03-12 14:00", booked="2026-03-11 15:12")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1)["prep"] == ("2026-03-11 15:12", "pending", None)


def test_prep_booked_at_night_waits_for_the_window_if_still_useful() -> None:
    planned = plan([session(1, "2026-03-12 14:00", booked="2026-03-11 23:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1)["prep"] == ("2026-03-12 09:00", "pending", None)


def test_prep_booked_too_close_to_the_session_is_skipped() -> None:
    planned = plan([session(1, "2026-03-12 10:30", booked="2026-03-12 09:45")], NY, WINDOW, daily_limit=1)
    assert by_kind(planned, 1)["prep"][1:] == ("skipped", "too-late")


def test_confirm_is_skipped_when_another_session_lies_in_between() -> None:
    planned = plan([session(1, "2026-03-09 10:00"), session(2, "2026-03-11 10:00")], NY, WINDOW, 1)
    assert by_kind(planned, 2)["confirm"][1:] == ("skipped", "session-between")


def test_confirm_is_skipped_for_a_session_already_confirmed() -> None:
    planned = plan([session(1, "2026-03-12 14:00", confirmed=True)], NY, WINDOW, 1)
    assert by_kind(planned, 1)["confirm"][1:] == ("skipped", "already-confirmed")


def test_touch_ups_are_confirmed_a_week_ahead_and_get_a_check_in_but_no_day_of() -> None:
    planned = plan([session(1, "2026-04-10 10:00", kind="touch-up", number=2)], NY, WINDOW, 1)
    kinds = by_kind(planned, 1)
    assert kinds["confirm"] == ("2026-04-03 10:00", "pending", None)
    assert "day-of" not in kinds
    assert kinds["check-in"] == ("2026-04-11 10:00", "pending", None)


def test_only_the_first_session_gets_a_day_of_text_and_an_induction_check_in() -> None:
    planned = plan([session(1, "2026-03-09 14:00"), session(2, "2026-03-12 14:00")], NY, WINDOW, 2)
    assert "day-of" in by_kind(planned, 1)
    assert "check-in" in by_kind(planned, 1)
    assert "day-of" not in by_kind(planned, 2)
    assert "check-in" not in by_kind(planned, 2)


def test_deadlines_stop_texts_that_would_arrive_too_close_to_the_session() -> None:
    planned = plan([session(1, "2026-03-12 14:00")], NY, WINDOW, daily_limit=2)
    deadlines = {r.kind.value: r.deadline for r in planned}
    start = at("2026-03-12 14:00")
    assert deadlines["prep"] == start - timedelta(hours=1)
    assert deadlines["confirm"] == start - timedelta(hours=1)
    assert deadlines["day-of"] == start - timedelta(minutes=15)
    assert deadlines["check-in"] == at("2026-03-13 20:00")


@pytest.mark.parametrize(
    ("tz_name", "starts", "prep_local"),
    [
        ("America/New_York", "2026-03-09 10:00", "2026-03-08 10:00"),  # spring forward day
        ("America/New_York", "2026-11-02 10:00", "2026-11-01 10:00"),  # fall back day
        ("Europe/London", "2026-03-30 10:00", "2026-03-29 10:00"),
        ("Europe/London", "2026-10-26 10:00", "2026-10-25 10:00"),
    ],
    ids=["ny-spring", "ny-fall", "london-spring", "london-fall"],
)
def test_prep_the_day_before_keeps_the_wall_clock_time_across_dst(
    tz_name: str, starts: str, prep_local: str
) -> None:
    planned = plan([session(1, starts, tz_name=tz_name)], zone(tz_name), WINDOW, 1)
    assert by_kind(planned, 1, tz_name)["prep"][0] == prep_local


def test_planning_twice_gives_the_same_plan() -> None:
    sessions = [session(1, "2026-03-09 10:00"), session(2, "2026-03-11 10:00")]
    assert plan(sessions) == plan(sessions[::-1])


def test_keys_change_with_the_revision_so_a_new_time_gets_new_texts() -> None:
    first = plan([session(1, "2026-03-12 14:00")])
    moved = Session(1, 1, SessionKind.INDUCTION, 1, at("2026-03-13 14:00"), at("2026-03-01 12:00"))
    second = plan([moved])
    assert not {r.key for r in first} & {r.key for r in second}


@pytest.mark.parametrize(
    ("enrolled", "expected"),
    [
        ("2026-03-03 10:15", "2026-03-03 10:15"),
        ("2026-03-03 22:40", "2026-03-04 09:00"),
        ("2026-03-04 06:00", "2026-03-04 09:00"),
    ],
    ids=["daytime", "late-evening", "early-morning"],
)
def test_welcome_goes_at_enrolment_or_when_the_window_opens(enrolled: str, expected: str) -> None:
    welcome = plan_welcome(at(enrolled), NY, WINDOW)
    assert welcome.kind is ReminderKind.WELCOME
    assert f"{to_local(welcome.due_at, NY):%Y-%m-%d %H:%M}" == expected


def notices(planned: list[PlannedReminder]) -> dict[str, tuple[str, str, str | None]]:
    return {
        r.key: (f"{to_local(r.due_at, NY):%Y-%m-%d %H:%M}", r.status, r.reason)
        for r in planned
        if r.kind is ReminderKind.NOTICE
    }


def test_a_moved_session_is_announced_as_soon_as_the_window_allows() -> None:
    moved = session(
        1, "2026-03-13 15:00", revision=1, notice=Notice(NoticeKind.MOVED, at("2026-03-10 21:40"))
    )
    assert notices(plan([moved])) == {"a1.1:notice:moved": ("2026-03-11 09:00", "pending", None)}


def test_a_cancelled_session_has_only_its_cancellation_notice() -> None:
    gone = session(
        1, "2026-03-13 15:00", cancelled=True, notice=Notice(NoticeKind.CANCELLED, at("2026-03-10 11:00"))
    )
    planned = plan([gone])
    assert [r.kind for r in planned] == [ReminderKind.NOTICE]
    assert notices(planned) == {"a1.0:notice:cancelled": ("2026-03-10 11:00", "pending", None)}


def test_a_notice_that_cannot_go_before_the_session_is_too_late() -> None:
    # Moved at 22:00 to 09:30 the next morning: the window opens less than an hour before.
    moved = session(
        1, "2026-03-11 09:30", revision=1, notice=Notice(NoticeKind.MOVED, at("2026-03-10 22:00"))
    )
    assert notices(plan([moved]))["a1.1:notice:moved"][1:] == ("skipped", "too-late")


def test_a_notice_shares_the_days_message_and_does_not_count_towards_the_limit() -> None:
    first = session(1, "2026-03-09 10:00")
    added = session(2, "2026-03-20 10:00", notice=Notice(NoticeKind.ADDED, at("2026-03-10 08:00")))
    result = plan_reminders([first, added], CONTEXT)
    [tuesday] = [m for m in result.messages if to_local(m.due_at, NY).day == 10]
    assert [p.kind for p in tuesday.parts] == [ReminderKind.CHECK_IN, ReminderKind.NOTICE]
    assert f"{to_local(tuesday.due_at, NY):%H:%M}" == "10:00"
