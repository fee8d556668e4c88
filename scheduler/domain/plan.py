"""The reminder plan: which texts go out for a patient's sessions, when, in which message, and
which are skipped (with the reason).

Planning is deterministic: the same sessions give the same reminders, keyed so that re-planning
never creates a second copy. It depends on when a session was booked or changed, never on the
clock. The texts of one local day share a message where the daily limit asks for it
(`domain.messages`); the dispatcher applies the same rules again when it sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.messages import Composition, Part, compose, message_time
from scheduler.domain.states import Language, NoticeKind, Reason, ReminderKind, ReminderStatus, SessionKind
from scheduler.domain.templates import TextContext, Voice, fits, part_name
from scheduler.domain.timeutil import to_local, to_utc
from scheduler.domain.window import SendWindow


@dataclass(frozen=True)
class Rules:
    """Lead times and deadlines of the reminder plan."""

    confirm_before_induction: timedelta = timedelta(hours=72)
    confirm_before_touch_up: timedelta = timedelta(days=7)
    prep_before: timedelta = timedelta(hours=24)
    day_of_before: timedelta = timedelta(hours=2)
    # A day-of nudge moved to the window's opening must still come this long before the session.
    day_of_least_notice: timedelta = timedelta(minutes=30)
    check_in_at: time = time(10, 0)
    # A text meant for before a session is useless this close to it.
    stale_before: timedelta = timedelta(hours=1)
    day_of_stale_before: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Notice:
    """A change staff made that the patient is to be told of, and when it was made."""

    kind: NoticeKind
    at: datetime  # aware UTC


@dataclass(frozen=True)
class Session:
    """What the planner needs to know of one appointment."""

    appointment_id: int
    revision: int
    kind: SessionKind
    number: int
    starts_at: datetime  # aware UTC
    booked_at: datetime  # aware UTC: when this time was booked (created or rescheduled)
    confirmed: bool = False
    cancelled: bool = False  # a cancelled session has only its cancellation notice
    notice: Notice | None = None


@dataclass(frozen=True)
class PlanContext:
    """Everything the plan depends on besides the sessions."""

    tz: ZoneInfo
    window: SendWindow
    daily_limit: int
    voice: Voice
    family: str = "iv"  # the protocol's family picks the preparation wording
    language: Language = Language.EN
    rules: Rules = Rules()

    @property
    def text(self) -> TextContext:
        """How this patient's texts are written: the clinic's voice, in the patient's language."""
        return TextContext(self.voice, language=self.language)

    def fits(self, parts: Sequence[Part]) -> bool:
        """Whether `parts` fit one message within the language's limit."""
        return fits(self.text, [piece for part in parts for piece in part.pieces()])


@dataclass(frozen=True)
class PlannedReminder:
    key: str
    appointment_id: int | None
    kind: ReminderKind
    due_at: datetime
    deadline: datetime | None
    status: ReminderStatus = ReminderStatus.PENDING  # or skipped
    reason: Reason | None = None


@dataclass(frozen=True)
class PlannedMessage:
    """One message as the patient will get it: when, and the parts it carries in reading order."""

    due_at: datetime
    parts: list[Part]


@dataclass(frozen=True)
class Plan:
    reminders: list[PlannedReminder]
    messages: list[PlannedMessage]


@dataclass
class _Draft:
    session: Session
    kind: ReminderKind
    due_local: datetime
    deadline: datetime | None
    notice: NoticeKind | None = None
    reason: Reason | None = None
    due_at: datetime = field(init=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = reminder_key(self.session.appointment_id, self.session.revision, self.kind, self.notice)


def reminder_key(
    appointment_id: int, revision: int, kind: ReminderKind, notice: NoticeKind | None = None
) -> str:
    key = f"a{appointment_id}.{revision}:{kind}"
    return f"{key}:{notice}" if notice is not None else key


def notice_of(key: str) -> NoticeKind | None:
    """What a change notice's key says it announces (None for any other text)."""
    _, _, rest = key.partition(f":{ReminderKind.NOTICE}:")
    return NoticeKind(rest) if rest else None


def is_current(key: str, appointment_id: int, revision: int) -> bool:
    """Whether a reminder's key belongs to the session's current time (its latest revision)."""
    return key.startswith(f"a{appointment_id}.{revision}:")


def plan_welcome(enrolled_at: datetime, tz: ZoneInfo, window: SendWindow) -> PlannedReminder:
    """The opt-in confirmation: at enrolment, or when the send window next opens."""
    due = to_utc(window.earliest_after(to_local(enrolled_at, tz)), tz)
    return PlannedReminder("welcome", None, ReminderKind.WELCOME, max(due, enrolled_at), None)


def plan_reminders(sessions: Sequence[Session], ctx: PlanContext) -> Plan:
    """Every text for `sessions` (a patient's scheduled, confirmed and attended appointments, and
    cancelled ones whose cancellation is to be announced), and the messages that carry them."""
    booked = sorted((s for s in sessions if not s.cancelled), key=lambda s: s.starts_at)
    drafts: list[_Draft] = []
    for index, session in enumerate(booked):
        drafts.extend(_drafts_for(session, index == 0 and session.number == 1, ctx))
    drafts.extend(_notice(s, ctx) for s in sessions if s.notice is not None)
    for draft in drafts:
        _place(draft, ctx, booked)
    messages = _share_messages(drafts, ctx)
    reminders = [
        PlannedReminder(
            key=d.key,
            appointment_id=d.session.appointment_id,
            kind=d.kind,
            due_at=d.due_at,
            deadline=d.deadline,
            status=ReminderStatus.SKIPPED if d.reason else ReminderStatus.PENDING,
            reason=d.reason,
        )
        for d in drafts
    ]
    return Plan(sorted(reminders, key=lambda r: (r.due_at, r.key)), messages)


def _drafts_for(session: Session, is_first: bool, ctx: PlanContext) -> list[_Draft]:
    rules, start = ctx.rules, to_local(session.starts_at, ctx.tz)
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
        day_of_deadline = session.starts_at - rules.day_of_stale_before
        drafts.append(_Draft(session, ReminderKind.DAY_OF, start - rules.day_of_before, day_of_deadline))
    if is_first or session.kind == SessionKind.TOUCH_UP:
        check_in = datetime.combine(start.date() + timedelta(days=1), rules.check_in_at)
        drafts.append(_Draft(session, ReminderKind.CHECK_IN, check_in, None))
    return drafts


def _notice(session: Session, ctx: PlanContext) -> _Draft:
    assert session.notice is not None
    deadline = session.starts_at - ctx.rules.stale_before
    due_local = to_local(max(session.notice.at, session.booked_at), ctx.tz)
    return _Draft(session, ReminderKind.NOTICE, due_local, deadline, notice=session.notice.kind)


def _place(draft: _Draft, ctx: PlanContext, sessions: Sequence[Session]) -> None:
    """Move the draft into the send window, then decide whether it can still be useful."""
    session, window, tz = draft.session, ctx.window, ctx.tz
    if draft.kind is ReminderKind.CHECK_IN:
        local = window.earliest_after(draft.due_local)
        draft.due_at = to_utc(local, tz)
        # A check-in is for the day after; one pushed later than that is no longer a check-in.
        draft.deadline = to_utc(datetime.combine(local.date(), window.end), tz)
        return
    if draft.kind is ReminderKind.NOTICE:
        # As soon as the window allows after the change.
        draft.due_at = to_utc(window.earliest_after(draft.due_local), tz)
        if draft.deadline is not None and draft.due_at >= draft.deadline:
            draft.reason = Reason.TOO_LATE
        return
    if draft.kind is ReminderKind.DAY_OF:
        _place_day_of(draft, ctx)
    else:
        draft.due_at = to_utc(window.latest_before(draft.due_local), tz)
    if draft.reason is not None:
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


def _place_day_of(draft: _Draft, ctx: PlanContext) -> None:
    """Two hours before; before the window opens, at the opening if that is still soon enough."""
    window, tz, wanted = ctx.window, ctx.tz, draft.due_local
    if window.contains(wanted):
        draft.due_at = to_utc(wanted, tz)
    elif wanted.time() < window.start:
        opening = datetime.combine(wanted.date(), window.start)
        draft.due_at = to_utc(opening, tz)
        if draft.due_at > draft.session.starts_at - ctx.rules.day_of_least_notice:
            draft.reason = Reason.OUTSIDE_WINDOW
    else:
        # Due after the window closes (a late-evening session): the last slot that day.
        draft.due_at = to_utc(window.latest_before(wanted), tz)


def _share_messages(drafts: list[_Draft], ctx: PlanContext) -> list[PlannedMessage]:
    """Lay each local day's texts out as messages, as the dispatcher will, day after day."""
    days: dict[date, list[_Draft]] = {}
    for draft in drafts:
        if draft.reason is None:
            days.setdefault(to_local(draft.due_at, ctx.tz).date(), []).append(draft)
    confirm_asked: set[int] = set()  # sessions whose confirm request goes out
    messages: list[PlannedMessage] = []
    for day in sorted(days):
        by_key = {d.key: d for d in days[day]}
        parts = [_part(d, ctx, confirm_asked) for d in days[day]]
        composition = compose(parts, ctx.fits, ctx.daily_limit)
        _apply(composition, by_key, confirm_asked, messages)
    return sorted(messages, key=lambda m: m.due_at)


def _part(draft: _Draft, ctx: PlanContext, confirm_asked: set[int]) -> Part:
    session = draft.session
    template = f"notice:{draft.notice}" if draft.notice is not None else part_name(draft.kind, ctx.family)
    return Part(
        ref=draft.key,
        kind=draft.kind,
        appointment_id=session.appointment_id,
        template=template,
        start=to_local(session.starts_at, ctx.tz),
        due_at=draft.due_at,
        deadline=draft.deadline,
        ask_wanted=not session.confirmed and session.appointment_id not in confirm_asked,
    )


def _apply(
    composition: Composition,
    by_key: dict[str, _Draft],
    confirm_asked: set[int],
    messages: list[PlannedMessage],
) -> None:
    for part in composition.superseded:
        by_key[str(part.ref)].reason = Reason.SUPERSEDED
    for part in composition.dropped:
        by_key[str(part.ref)].reason = Reason.DAILY_LIMIT
    for parts in composition.messages:
        sent_at = message_time(parts)
        for part in parts:
            by_key[str(part.ref)].due_at = sent_at
            if part.appointment_id is not None and (part.kind is ReminderKind.CONFIRM or part.asks):
                confirm_asked.add(part.appointment_id)
        messages.append(PlannedMessage(sent_at, parts))
