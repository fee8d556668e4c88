"""The reminder plan: lead times, the send window, the daily limit, deadlines and skips."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from scheduler.domain.plan import PlannedReminder, Session, plan_reminders, plan_welcome
from scheduler.domain.states import ReminderKind, SessionKind
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.domain.window import SendWindow

NY = zone("America/New_York")
WINDOW = SendWindow(time(9, 0), time(20, 0))


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
) -> Session:
    return Session(
        appointment_id=appointment_id,
        revision=0,
        kind=SessionKind(kind),
        number=number if number is not None else appointment_id,
        starts_at=at(starts, tz_name),
        booked_at=at(booked, tz_name),
        confirmed=confirmed,
    )


def by_kind(
    plan: list[PlannedReminder], appointment_id: int, tz_name: str = "America/New_York"
) -> dict[str, tuple[str, str, str | None]]:
    tz = zone(tz_name)
    return {
        r.kind.value: (f"{to_local(r.due_at, tz):%Y-%m-%d %H:%M}", r.status, r.reason)
        for r in plan
        if r.appointment_id == appointment_id
    }


def test_a_single_first_session_gets_every_kind_of_text() -> None:
    plan = plan_reminders([session(1, "2026-03-12 14:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(plan, 1) == {
        "confirm": ("2026-03-09 14:00", "pending", None),
        "prep": ("2026-03-11 14:00", "pending", None),
        "day-of": ("2026-03-12 12:00", "pending", None),
        "check-in": ("2026-03-13 10:00", "pending", None),
    }


def test_a_text_due_at_seven_moves_to_the_evening_before() -> None:
    # prep 24 h before a 07:00 session is due at 07:00 the day before: the evening before that.
    plan = plan_reminders([session(1, "2026-03-12 07:00")], NY, WINDOW, daily_limit=2)
    assert by_kind(plan, 1)["prep"] == ("2026-03-10 19:30", "pending", None)


def test_a_day_of_text_that_would_fall_the_evening_before_is_skipped() -> None:
    # "Today at 9am" cannot go out at 19:30 the day before.
    plan = plan_reminders([session(1, "2026-03-12 09:00")], NY, WINDOW, daily_limit=2)
    assert by_kind(plan, 1)["day-of"] == ("2026-03-11 19:30", "skipped", "outside-window")


def test_a_text_due_after_the_window_closes_moves_earlier_the_same_day() -> None:
    # prep 24 h before a 21:00 session is due 21:00 the day before: moved to 19:30.
    plan = plan_reminders([session(1, "2026-03-12 21:00")], NY, WINDOW, daily_limit=1)
    assert by_kind(plan, 1)["prep"] == ("2026-03-11 19:30", "pending", None)


def test_a_check_in_is_never_sent_before_the_window_opens() -> None:
    early = SendWindow(time(11, 0), time(20, 0))
    plan = plan_reminders([session(1, "2026-03-12 14:00")], NY, early, daily_limit=1)
    assert by_kind(plan, 1)["check-in"] == ("2026-03-13 11:00", "pending", None)


def test_two_texts_on_one_day_keep_the_higher_priority_one() -> None:
    # The check-in after session 1 and the prep for session 2 both fall on Tuesday.
    plan = plan_reminders(
        [session(1, "2026-03-09 14:00"), session(2, "2026-03-11 14:00")], NY, WINDOW, daily_limit=1
    )
    assert by_kind(plan, 2)["prep"] == ("2026-03-10 14:00", "pending", None)
    assert by_kind(plan, 1)["check-in"] == ("2026-03-10 10:00", "skipped", "daily-limit")


@pytest.mark.parametrize(
    ("winner", "loser", "sessions"),
    [
        # check-in after session 1 (Tue 10:00) vs prep for session 2 (Wed 10:00).
        ("prep", "check-in", ["2026-03-09 10:00", "2026-03-11 10:00"]),
        # confirm for a touch-up 7 days ahead vs check-in the day after session 1.
        ("check-in", None, ["2026-03-09 10:00"]),
    ],
    ids=["prep-beats-check-in", "no-collision"],
)
def test_daily_limit_priority(winner: str, loser: str | None, sessions: list[str]) -> None:
    planned = plan_reminders([session(i + 1, s) for i, s in enumerate(sessions)], NY, WINDOW, daily_limit=1)
    statuses = {(r.kind.value, r.appointment_id): (r.status, r.reason) for r in planned}
    if loser is None:
        assert statuses[(winner, 1)] == ("pending", None)
    else:
        assert statuses[(winner, 2)] == ("pending", None)
        assert statuses[(loser, 1)] == ("skipped", "daily-limit")


def test_a_higher_daily_limit_keeps_both() -> None:
    plan = plan_reminders(
        [session(1, "2026-03-09 14:00"), session(2, "2026-03-11 14:00")], NY, WINDOW, daily_limit=2
    )
    assert {r.status for r in plan if r.reason != "session-between"} == {"pending"}


def test_at_most_the_daily_limit_of_texts_on_any_local_day() -> None:
    sessions = [session(i + 1, f"2026-03-{d:02d} 10:00") for i, d in enumerate((9, 11, 13, 16))]
    plan = plan_reminders(sessions, NY, WINDOW, daily_limit=1)
    days = [to_local(r.due_at, NY).date() for r in plan if r.status == "pending"]
    assert len(days) == len(set(days))


def test_confirm_is_skipped_when_the_session_was_booked_later_than_it_was_due() -> None:
    plan = plan_reminders(
        [session(1, "2026-03-12 14:00", booked="2026-03-10 12:00")], NY, WINDOW, daily_limit=1
    )
    assert by_kind(plan, 1)["confirm"][1:] == ("skipped", "booked-late")


def test_prep_is_sent_at_booking_when_booked_inside_24_hours() -> None:
    plan = plan_reminders(
        [session(1, "2026-03-12 14:00", booked="2026-03-11 15:12")], NY, WINDOW, daily_limit=1
    )
    assert by_kind(plan, 1)["prep"] == ("2026-03-11 15:12", "pending", None)


def test_prep_booked_at_night_waits_for_the_window_if_still_useful() -> None:
    plan = plan_reminders(
        [session(1, "2026-03-12 14:00", booked="2026-03-11 23:00")], NY, WINDOW, daily_limit=1
    )
    assert by_kind(plan, 1)["prep"] == ("2026-03-12 09:00", "pending", None)


def test_prep_booked_too_close_to_the_session_is_skipped() -> None:
    plan = plan_reminders(
        [session(1, "2026-03-12 10:30", booked="2026-03-12 09:45")], NY, WINDOW, daily_limit=1
    )
    assert by_kind(plan, 1)["prep"][1:] == ("skipped", "too-late")


def test_confirm_is_skipped_when_another_session_lies_in_between() -> None:
    plan = plan_reminders([session(1, "2026-03-09 10:00"), session(2, "2026-03-11 10:00")], NY, WINDOW, 1)
    assert by_kind(plan, 2)["confirm"][1:] == ("skipped", "session-between")


def test_confirm_is_skipped_for_a_session_already_confirmed() -> None:
    plan = plan_reminders([session(1, "2026-03-12 14:00", confirmed=True)], NY, WINDOW, 1)
    assert by_kind(plan, 1)["confirm"][1:] == ("skipped", "already-confirmed")


def test_touch_ups_are_confirmed_a_week_ahead_and_get_a_check_in_but_no_day_of() -> None:
    plan = plan_reminders([session(1, "2026-04-10 10:00", kind="touch-up", number=2)], NY, WINDOW, 1)
    kinds = by_kind(plan, 1)
    assert kinds["confirm"] == ("2026-04-03 10:00", "pending", None)
    assert "day-of" not in kinds
    assert kinds["check-in"] == ("2026-04-11 10:00", "pending", None)


def test_only_the_first_session_gets_a_day_of_text_and_an_induction_check_in() -> None:
    plan = plan_reminders([session(1, "2026-03-09 14:00"), session(2, "2026-03-12 14:00")], NY, WINDOW, 2)
    assert "day-of" in by_kind(plan, 1)
    assert "check-in" in by_kind(plan, 1)
    assert "day-of" not in by_kind(plan, 2)
    assert "check-in" not in by_kind(plan, 2)


def test_deadlines_stop_texts_that_would_arrive_too_close_to_the_session() -> None:
    plan = plan_reminders([session(1, "2026-03-12 14:00")], NY, WINDOW, daily_limit=2)
    deadlines = {r.kind.value: r.deadline for r in plan}
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
    plan = plan_reminders([session(1, starts, tz_name=tz_name)], zone(tz_name), WINDOW, 1)
    assert by_kind(plan, 1, tz_name)["prep"][0] == prep_local


def test_planning_twice_gives_the_same_plan() -> None:
    sessions = [session(1, "2026-03-09 10:00"), session(2, "2026-03-11 10:00")]
    assert plan_reminders(sessions, NY, WINDOW, 1) == plan_reminders(sessions[::-1], NY, WINDOW, 1)


def test_keys_change_with_the_revision_so_a_new_time_gets_new_texts() -> None:
    first = plan_reminders([session(1, "2026-03-12 14:00")], NY, WINDOW, 1)
    moved = Session(1, 1, SessionKind.INDUCTION, 1, at("2026-03-13 14:00"), at("2026-03-01 12:00"))
    second = plan_reminders([moved], NY, WINDOW, 1)
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
