"""Whole courses as the patient lives them: every built-in protocol, every weekday of the first
session, four start times and three zones (New York crosses the spring change to summer time), in
English and in Spanish.

For each course: the check-in after the first session and after the touch-up goes out (alone or
sharing a message), every session is preceded by a text that asks to confirm it, no local day
carries more messages than the daily limit, no message is longer than its language allows (two
segments in English, three in Spanish), and nothing is sent outside the send window.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, time, timedelta

import pytest

from scheduler.domain import course
from scheduler.domain.encoding import segments
from scheduler.domain.messages import Part
from scheduler.domain.plan import Plan, PlanContext, Session, plan_reminders
from scheduler.domain.protocols import BUILTIN
from scheduler.domain.states import Language, ReminderKind, ReminderStatus, SessionKind
from scheduler.domain.templates import LIMITS, TextContext, Voice, combine
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.domain.window import SendWindow

WINDOW = SendWindow(time(9, 0), time(20, 0))
CLOSED = frozenset({5, 6})
# The longest clinic name settings allow, and the longest built-in crisis line.
VOICE = Voice("Riverside Wellness C", "(201) 555-0100", "999", "Samaritans 116 123")
ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata")
TIMES = ("08:00", "10:00", "13:00", "18:30")
# Mon 2 March 2026 to Sun 8 March: New York moves its clocks on the 8th.
FIRST_DAYS = [datetime(2026, 3, 2) + timedelta(days=n) for n in range(7)]  # noqa: DTZ001

CASES = [
    pytest.param(
        protocol,
        day,
        clock,
        tz,
        language,
        id=f"{protocol}-{day:%a}-{clock.replace(':', '')}-{tz.split('/')[1]}-{language}",
    )
    for protocol, day, clock, tz, language in itertools.product(
        sorted(BUILTIN), FIRST_DAYS, TIMES, ZONES, Language
    )
]


def course_of(
    protocol_id: str, first: datetime, tz_name: str, language: Language = Language.EN
) -> tuple[list[Session], Plan]:
    """The sessions a clinic books for this start (the first touch-up too), booked eight days
    ahead, and their plan with the default daily limit of one message."""
    protocol, tz = BUILTIN[protocol_id], zone(tz_name)
    booked = to_utc(first, tz) - timedelta(days=8)
    planned = course.first_sessions(protocol, first, CLOSED)
    if protocol.touch_up_days is not None and planned[-1].kind == SessionKind.INDUCTION:
        last = planned[-1].local_start.date()
        planned.append(course.next_touch_up(last, protocol.touch_up_days, first.time(), 1, CLOSED))
    sessions = [
        Session(n, 0, s.kind, s.number, to_utc(s.local_start, tz), booked) for n, s in enumerate(planned, 1)
    ]
    context = PlanContext(tz, WINDOW, 1, VOICE, protocol.family, language)
    return sessions, plan_reminders(sessions, context)


def body(parts: list[Part], language: Language = Language.EN) -> str:
    pieces = [piece for part in parts for piece in part.pieces()]
    return combine(TextContext(VOICE, language=language), pieces)


@pytest.mark.parametrize(("protocol", "day", "clock", "tz_name", "language"), CASES)
def test_a_whole_course_is_one_a_nurse_would_sign(
    protocol: str, day: datetime, clock: str, tz_name: str, language: Language
) -> None:
    tz = zone(tz_name)
    first = datetime.combine(day.date(), time.fromisoformat(clock))
    sessions, plan = course_of(protocol, first, tz_name, language)
    sent = {str(part.ref): message for message in plan.messages for part in message.parts}

    for message in plan.messages:
        local = to_local(message.due_at, tz)
        assert WINDOW.contains(local), f"sent at {local:%a %H:%M}, outside the window"
        text = body(message.parts, language)
        assert segments(text) <= LIMITS[language].combined, text
    per_day = Counter(to_local(m.due_at, tz).date() for m in plan.messages)
    assert max(per_day.values()) <= 1, per_day

    check_ins = {r.appointment_id: r for r in plan.reminders if r.kind is ReminderKind.CHECK_IN}
    wanted = {sessions[0].appointment_id} | {
        s.appointment_id for s in sessions if s.kind == SessionKind.TOUCH_UP
    }
    assert set(check_ins) == wanted
    for check_in in check_ins.values():
        assert check_in.status is ReminderStatus.PENDING, check_in
        assert check_in.key in sent

    for session in sessions:
        asking = [
            message
            for message in plan.messages
            for part in message.parts
            if part.appointment_id == session.appointment_id
            and (part.kind is ReminderKind.CONFIRM or part.asks)
            and message.due_at < session.starts_at
        ]
        assert asking, f"nothing asks to confirm session {session.number} ({session.kind})"
