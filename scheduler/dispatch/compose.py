"""At the moment of sending: which of a patient's texts share a message, which a newer text covers,
and what the daily limit still allows, by the same rules as the plan (`domain.messages`).

The daily limit is checked here again, against what was really sent today: after a pause, an
outage, a reschedule or a catch-up, a day still gets at most `DAILY_TEXT_LIMIT` messages. When
this message is the last the day allows, the patient's texts due later that day come along now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from scheduler.dispatch.context import Counts, SendContext
from scheduler.domain.messages import CAPPED, Part, compose
from scheduler.domain.plan import PlanContext, notice_of
from scheduler.domain.states import (
    AppointmentStatus,
    MessageStatus,
    Reason,
    ReminderKind,
    ReminderStatus,
)
from scheduler.domain.templates import TextContext, combine, part_name, render
from scheduler.domain.timeutil import to_local, to_utc
from scheduler.services.planning import Planner
from scheduler.store.held import HeldTexts, NewMessage
from scheduler.store.models import Appointment, Message, Patient, Reminder
from scheduler.store.outbox import claim_more, release

log = logging.getLogger("scheduler.dispatch")

# Messages that reached, or may have reached, the patient: they used the day's allowance.
_NOT_COUNTED = (MessageStatus.NOT_SENT, MessageStatus.FAILED, MessageStatus.UNDELIVERED)
_CONFIRM_SENT = (ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN)

# Decides on one claimed text: True when it may go now (else it has been released, with why).
Gate = Callable[[DbSession, Reminder, Patient, Appointment | None, datetime, Counts], bool]


@dataclass(slots=True)
class Outgoing:
    """One message about to be sent, and the texts it carries (the first leads)."""

    message: NewMessage
    reminders: list[Reminder]


class Composer:
    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx
        self.voice = ctx.settings.voice
        self.planner = Planner(ctx.settings, ctx.protocols)
        # A text on its own (a welcome) speaks of no session: its words depend only on the kind
        # and the language, so each is rendered once per worker.
        self._alone_bodies: dict[tuple[str, str], str] = {}

    def outgoing(
        self,
        held: HeldTexts,
        patient: Patient,
        sendable: list[Reminder],
        appointments: dict[int, Appointment],
        now: datetime,
        counts: Counts,
        gate: Gate,
    ) -> list[Outgoing]:
        """The messages for `patient` now, from their texts that passed the gates."""
        out = [self._alone(patient, r, now) for r in sendable if r.kind == ReminderKind.WELCOME]
        course = [r for r in sendable if r.kind != ReminderKind.WELCOME]
        if not course:
            return out
        db = held.db
        plan = self.planner.context(patient)
        tz = plan.tz
        day = to_local(now, tz).date()
        day_start = to_utc(datetime.combine(day, datetime.min.time()), tz)
        tomorrow = to_utc(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
        allowed = self.ctx.settings.daily_text_limit - _capped_messages(db, patient.id, day_start, tomorrow)
        if allowed <= 1 and any(r.kind in CAPPED for r in course):
            course += self._bring_forward(held, patient, tomorrow, appointments, now, counts, gate)
        by_id: dict[Hashable, Reminder] = {r.id: r for r in course}
        asked = _confirm_went_out(db, patient.id)
        parts = [self._part(r, appointments, plan, asked) for r in course]
        composition = compose(parts, plan.fits, max(allowed, 0))
        for part in composition.superseded:
            release(by_id[part.ref], now, status=ReminderStatus.EXPIRED, reason=Reason.SUPERSEDED)
            counts.add("expired")
        opening = to_utc(datetime.combine(day + timedelta(days=1), self.ctx.settings.send_window.start), tz)
        for part in composition.dropped:
            reminder = by_id[part.ref]
            if allowed <= 0 and (reminder.deadline is None or opening < reminder.deadline):
                release(reminder, now, due_at=opening)  # today's messages are used up: tomorrow
                counts.add("deferred")
            else:
                release(reminder, now, status=ReminderStatus.SKIPPED, reason=Reason.DAILY_LIMIT)
                counts.add("skipped")
        for message_parts in composition.messages:
            pieces = [piece for part in message_parts for piece in part.pieces()]
            carried = [by_id[part.ref] for part in message_parts]
            out.append(self._message(patient, carried, combine(plan.text, pieces), now))
        return out

    def _alone(self, patient: Patient, reminder: Reminder, now: datetime) -> Outgoing:
        key = (reminder.kind, patient.language)
        body = self._alone_bodies.get(key)
        if body is None:
            body = self._alone_bodies[key] = render(
                reminder.kind, TextContext(self.voice, language=patient.language)
            )
        return self._message(patient, [reminder], body, now)

    def _message(self, patient: Patient, carried: list[Reminder], body: str, now: datetime) -> Outgoing:
        return Outgoing(NewMessage(carried[0].id, patient.id, patient.phone, body), carried)

    def _part(
        self, reminder: Reminder, appointments: dict[int, Appointment], plan: PlanContext, asked: set[int]
    ) -> Part:
        appointment = appointments.get(reminder.appointment_id or 0)
        attended = appointment is not None and appointment.status == AppointmentStatus.ATTENDED
        notice = notice_of(reminder.plan_key)
        template = f"notice:{notice}" if notice else part_name(reminder.kind, plan.family, attended=attended)
        return Part(
            ref=reminder.id,
            kind=reminder.kind,
            appointment_id=reminder.appointment_id,
            template=template,
            start=None if appointment is None else to_local(appointment.starts_at, plan.tz),
            due_at=reminder.due_at,
            deadline=reminder.deadline,
            ask_wanted=appointment is not None
            and appointment.confirmed_at is None
            and appointment.id not in asked,
        )

    def _bring_forward(
        self,
        held: HeldTexts,
        patient: Patient,
        before: datetime,
        appointments: dict[int, Appointment],
        now: datetime,
        counts: Counts,
        gate: Gate,
    ) -> list[Reminder]:
        """Claim the patient's texts due later today, and keep those that may go now."""
        db = held.db
        later = db.scalars(
            select(Reminder.id).where(
                Reminder.patient_id == patient.id,
                Reminder.status == ReminderStatus.PENDING,
                Reminder.kind.in_(CAPPED),
                Reminder.due_at > now,
                Reminder.due_at < before,
            )
        ).all()
        ctx = self.ctx
        claimed = claim_more(db, ctx.worker, later, now, now + ctx.settings.claim_lease)
        if not claimed:
            return []
        counts.add("claimed", len(claimed))
        rows = list(held.load(claimed).values())
        appointments.update(
            held.appointments(r.appointment_id for r in rows if r.appointment_id not in appointments)
        )
        return [r for r in rows if gate(db, r, patient, appointments.get(r.appointment_id or 0), now, counts)]


def _capped_messages(db: DbSession, patient_id: int, start: datetime, end: datetime) -> int:
    """How many messages that count towards the daily limit reached the patient in [start, end)."""
    counted = db.scalar(
        select(func.count(func.distinct(Message.id)))
        .select_from(Message)
        .join(Reminder, Reminder.message_id == Message.id)
        .where(
            Message.patient_id == patient_id,
            Message.created_at >= start,
            Message.created_at < end,
            Message.status.not_in(_NOT_COUNTED),
            Reminder.kind.in_(CAPPED),
        )
    )
    return counted or 0


def _confirm_went_out(db: DbSession, patient_id: int) -> set[int]:
    """The patient's sessions whose confirm request was sent."""
    return set(
        db.scalars(
            select(Reminder.appointment_id).where(
                Reminder.patient_id == patient_id,
                Reminder.kind == ReminderKind.CONFIRM,
                Reminder.status.in_(_CONFIRM_SENT),
                Reminder.appointment_id.is_not(None),
            )
        )
    )
