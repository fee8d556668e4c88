"""The reminder plan: which texts go out for a patient's sessions, when, and which are skipped.

Planning is deterministic: the same sessions give the same reminders, keyed so that re-planning
never creates a second copy. It depends on when a session was booked, never on the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.states import Reason, ReminderKind, ReminderStatus, SessionKind
from scheduler.domain.timeutil import to_local, to_utc
from scheduler.domain.window import SendWindow

# On a day with more texts than the daily limit, the first of these wins.
PRIORITY = (ReminderKind.PREP, ReminderKind.DAY_OF, ReminderKind.CONFIRM, ReminderKind.CHECK_IN)


@dataclass(frozen=True)
class Rules:
    """Lead times and deadlines of the reminder plan."""

    confirm_before_induction: timedelta = timedelta(hours=72)
    confirm_before_touch_up: timedelta = timedelta(days=7)
    prep_before: timedelta = timedelta(hours=24)
    day_of_before: timedelta = timedelta(hours=2)
    check_in_at: time = time(10, 0)
    # A text meant for before a session is useless this close to it.
    stale_before: timedelta = timedelta(hours=1)
    day_of_stale_before: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Session:
    """What the planner needs to know of one scheduled or confirmed appointment."""

    appointment_id: int
    revision: int
    kind: SessionKind
    number: int
    starts_at: datetime  # aware UTC
    booked_at: datetime  # aware UTC: when this time was booked (created or rescheduled)
    confirmed: bool = False


@dataclass(frozen=True)
class PlannedReminder:
    key: str
    appointment_id: int | None
    kind: ReminderKind
    due_at: datetime
    deadline: datetime | None
    status: ReminderStatus = ReminderStatus.PENDING  # or skipped
    reason: Reason | None = None


@dataclass
class _Draft:
    session: Session
    kind: ReminderKind
    due_local: datetime
    deadline: datetime | None
    reason: Reason | None = None
    due_at: datetime = field(init=False)


def reminder_key(appointment_id: int, revision: int, kind: ReminderKind) -> str:
    return f"a{appointment_id}.{revision}:{kind}"


def is_current(key: str, appointment_id: int, revision: int) -> bool:
    """Whether a reminder's key belongs to the session's current time (its latest revision)."""
    return key.startswith(f"a{appointment_id}.{revision}:")


def plan_welcome(enrolled_at: datetime, tz: ZoneInfo, window: SendWindow) -> PlannedReminder:
    """The opt-in confirmation: at enrolment, or when the send window next opens."""
    due = to_utc(window.earliest_after(to_local(enrolled_at, tz)), tz)
    return PlannedReminder("welcome", None, ReminderKind.WELCOME, max(due, enrolled_at), None)


def plan_reminders(
    sessions: Sequence[Session],
    tz: ZoneInfo,
    window: SendWindow,
    daily_limit: int,
    rules: Rules = Rules(),
) -> list[PlannedReminder]:
    """Every text for `sessions` (all of a patient's scheduled or confirmed appointments)."""
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    drafts: list[_Draft] = []
    for index, session in enumerate(ordered):
        drafts.extend(_drafts_for(session, index == 0 and session.number == 1, tz, rules))
    for draft in drafts:
        _place(draft, tz, window, ordered)
    _apply_daily_limit(drafts, tz, daily_limit)
    return sorted(
        (
            PlannedReminder(
                key=reminder_key(d.session.appointment_id, d.session.revision, d.kind),
                appointment_id=d.session.appointment_id,
                kind=d.kind,
                due_at=d.due_at,
                deadline=d.deadline,
                status=ReminderStatus.SKIPPED if d.reason else ReminderStatus.PENDING,
                reason=d.reason,
            )
            for d in drafts
        ),
        key=lambda r: (r.due_at, r.key),
    )


def _drafts_for(session: Session, is_first: bool, tz: ZoneInfo, rules: Rules) -> list[_Draft]:
    start = to_local(session.starts_at, tz)
    stale = session.starts_at - rules.stale_before
    confirm_lead = (
        rules.confirm_before_induction
        if session.kind == SessionKind.INDUCTION
        else rules.confirm_before_touch_up
    )
    drafts = [
        _Draft(session, ReminderKind.CONFIRM, start - confirm_lead, stale),
        _Draft(session, ReminderKind.PREP, start - rules.prep_before, stale),
    ]
    if is_first:
        drafts.append(
            _Draft(
                session,
                ReminderKind.DAY_OF,
                start - rules.day_of_before,
                session.starts_at - rules.day_of_stale_before,
            )
        )
    if is_first or session.kind == SessionKind.TOUCH_UP:
        check_in = datetime.combine(start.date() + timedelta(days=1), rules.check_in_at)
        drafts.append(_Draft(session, ReminderKind.CHECK_IN, check_in, None))
    return drafts  # fmt: skip


def _place(draft: _Draft, tz: ZoneInfo, window: SendWindow, sessions: Sequence[Session]) -> None:
    """Move the draft into the send window, then decide whether it can still be useful."""
    session = draft.session
    if draft.kind is ReminderKind.CHECK_IN:
        local = window.earliest_after(draft.due_local)
        draft.due_at = to_utc(local, tz)
        # A check-in is for the day after; one pushed later than that is no longer a check-in.
        draft.deadline = to_utc(datetime.combine(local.date(), window.end), tz)
        return
    local = window.latest_before(draft.due_local)
    draft.due_at = to_utc(local, tz)
    if draft.kind is ReminderKind.DAY_OF and local.date() != draft.due_local.date():
        # "Today at 8:30" cannot be sent the evening before; the prep text covers that evening.
        draft.reason = Reason.OUTSIDE_WINDOW
        return
    if draft.kind is ReminderKind.CONFIRM:
        if session.confirmed:
            draft.reason = Reason.ALREADY_CONFIRMED
        elif draft.due_at < session.booked_at:
            draft.reason = Reason.BOOKED_LATE
        elif any(draft.due_at <= s.starts_at < session.starts_at for s in sessions):
            draft.reason = Reason.SESSION_BETWEEN
        return
    if draft.due_at < session.booked_at:
        # Booked after the text was due: send it as soon as the window allows, if still useful.
        local = window.earliest_after(to_local(session.booked_at, tz))
        draft.due_at = max(to_utc(local, tz), session.booked_at)
    if draft.deadline is not None and draft.due_at >= draft.deadline:
        draft.reason = Reason.TOO_LATE


def _apply_daily_limit(drafts: list[_Draft], tz: ZoneInfo, limit: int) -> None:
    by_day: dict[object, list[_Draft]] = defaultdict(list)
    for draft in drafts:
        if draft.reason is None:
            by_day[(to_local(draft.due_at, tz).date())].append(draft)
    for same_day in by_day.values():
        same_day.sort(key=lambda d: (PRIORITY.index(d.kind), d.due_at))
        for loser in same_day[limit:]:
            loser.reason = Reason.DAILY_LIMIT
