"""A course as the patient will live it, planned from a protocol and a first session, writing
nothing: every session, and every message with its local send time, exact words and length."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field

from scheduler.config import Settings
from scheduler.domain import course
from scheduler.domain.encoding import Encoding, encoding_of, segments
from scheduler.domain.enrolment import check_first
from scheduler.domain.oddities import time_warnings
from scheduler.domain.plan import PlanContext, Session, plan_reminders, plan_welcome
from scheduler.domain.protocols import Protocol
from scheduler.domain.states import Language, ReminderKind, SessionKind
from scheduler.domain.templates import combine, render
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.services.results import Instant, Result


class PreviewSession(Result):
    kind: SessionKind
    number: int
    starts_at: Instant
    local_start: Instant


class PreviewText(Result):
    """One message: when it goes (UTC, and the patient's local time), the texts it carries, its
    words and how many SMS segments they take."""

    due_at: Instant
    local_due: Instant
    kinds: list[ReminderKind]
    body: str
    segments: int = Field(description="SMS segments in the encoding the text needs (GSM-7, else UCS-2).")
    encoding: Encoding = Field(description="GSM-7, or UCS-2 when a character needs it.")


class CoursePreview(Result):
    appointments: list[PreviewSession]
    texts: list[PreviewText]
    warnings: list[str]


def preview_course(
    settings: Settings,
    protocol: Protocol,
    first: str,
    timezone: str,
    now: datetime,
    interval_days: int | None = None,
    *,
    language: Language = Language.EN,
) -> CoursePreview:
    """The course enrolling now with this first session would plan (touch-ups at the protocol's
    interval unless another is given). Raises InvalidInput, naming the field, for a time or zone
    enrolment would refuse."""
    tz = zone(timezone.strip())
    first_local = check_first(first, tz, now)
    tomorrow = to_local(now, tz).date() + timedelta(days=1)
    closed = settings.clinic_closed_days
    interval = interval_days if interval_days is not None else protocol.touch_up_days
    booked = course.initial_sessions(protocol, first_local, closed, interval, tomorrow)
    sessions = [
        Session(n, 0, s.kind, s.number, to_utc(s.local_start, tz), now) for n, s in enumerate(booked, 1)
    ]
    ctx = PlanContext(
        tz, settings.send_window, settings.daily_text_limit, settings.voice, protocol.family, language
    )
    plan = plan_reminders(sessions, ctx)
    welcome = plan_welcome(now, tz, settings.send_window)
    texts = [_text(welcome.due_at, tz, [ReminderKind.WELCOME], render("welcome", ctx.text))]
    for message in plan.messages:
        pieces = [piece for part in message.parts for piece in part.pieces()]
        body = combine(ctx.text, pieces)
        texts.append(_text(message.due_at, tz, [p.kind for p in message.parts], body))
    return CoursePreview(
        appointments=[
            PreviewSession(
                kind=s.kind, number=s.number, starts_at=s.starts_at, local_start=s.starts_at.astimezone(tz)
            )
            for s in sessions
        ],
        texts=sorted(texts, key=lambda t: t.due_at),
        warnings=time_warnings(first_local, tz, closed),
    )


def _text(due_at: datetime, tz: ZoneInfo, kinds: list[ReminderKind], body: str) -> PreviewText:
    local = due_at.astimezone(tz)
    return PreviewText(
        due_at=due_at,
        local_due=local,
        kinds=kinds,
        body=body,
        segments=segments(body),
        encoding=encoding_of(body),
    )
