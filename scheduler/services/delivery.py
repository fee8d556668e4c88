"""Delivery reports from the provider: where each message got to, and what a failure means for
every text it carried."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.outcomes import Stage, judge_failure
from scheduler.domain.protocols import Protocol
from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.services.outcomes import apply_message_verdict
from scheduler.services.planning import Planner
from scheduler.sms import classify_delivery_error
from scheduler.store.models import Message, Patient, Reminder
from scheduler.store.status import advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.delivery")

_DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)
_NOT_DELIVERED = (MessageStatus.UNDELIVERED, MessageStatus.FAILED)
# Reminders whose latest message a report may still settle; a worker holding the claim records
# the result itself, reading the message.
_SETTLEABLE = (ReminderStatus.SENT, ReminderStatus.UNKNOWN, ReminderStatus.DELIVERED)


@dataclass(frozen=True)
class DeliveryReport:
    status: str  # Twilio's MessageStatus
    message_id: int | None = None  # ours, from the callback URL
    provider_sid: str | None = None
    error_code: int | None = None


class DeliveryReports:
    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        database: sessionmaker[DbSession],
        clock: Clock,
    ) -> None:
        self.planner = Planner(settings, protocols)
        self.database = database
        self.clock = clock

    def apply(self, report: DeliveryReport) -> bool:
        """Apply a status callback; False when it names no message of ours, or names one of ours
        under a MessageSid that is not that message's. Idempotent, and a report that arrives late
        never moves a message or its texts backwards."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            db = uow.db
            message = db.get(Message, report.message_id) if report.message_id is not None else None
            if message is None and report.provider_sid:
                message = db.scalars(
                    select(Message).where(Message.provider_sid == report.provider_sid)
                ).first()
            if message is None:
                return False
            if report.provider_sid and report.provider_sid != message.provider_sid:
                if message.provider_sid is not None or _sid_taken(db, report.provider_sid):
                    # Twilio never reports one message under another's sid: a replayed or crafted
                    # report. Applying it could settle the wrong patient's texts.
                    log.warning("status report for message %s names another MessageSid; ignored", message.id)
                    return False
                # The create response was lost; the callback tells us the send did happen.
                message.provider_sid = report.provider_sid
            if not advance_message(message, report.status, now):
                uow.commit()
                return True
            if report.error_code is not None:
                message.error_code = report.error_code
            settle(db, self.planner, message, now)
            uow.commit()
            return True


def _sid_taken(db: DbSession, sid: str) -> bool:
    return db.scalar(select(Message.id).where(Message.provider_sid == sid).limit(1)) is not None


def settle(db: DbSession, planner: Planner, message: Message, now: datetime) -> None:
    """Give the texts `message` carried (those it is still the latest message of) its news.

    A worker that still holds a claim on them records the result itself, reading the message.
    """
    carried = [
        r
        for r in db.scalars(select(Reminder).where(Reminder.message_id == message.id).order_by(Reminder.id))
        if r.status in _SETTLEABLE
    ]
    if message.status in (MessageStatus.SENT, *_DELIVERED):
        delivered = message.status in _DELIVERED
        for reminder in carried:
            if reminder.status == ReminderStatus.UNKNOWN:
                reminder.sent_at = now
                reminder.reason = None
            reminder.status = ReminderStatus.DELIVERED if delivered else ReminderStatus.SENT
            reminder.provider_sid = message.provider_sid
            reminder.updated_at = now
    elif message.status in _NOT_DELIVERED and carried:
        undelivered(db, planner, message, carried, now)


def undelivered(
    db: DbSession, planner: Planner, message: Message, carried: list[Reminder], now: datetime
) -> None:
    """A message the provider took did not reach the handset: judge it as every failure is judged,
    once for all the texts it carried."""
    code = message.error_code
    failures = db.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.reminder_id == message.reminder_id, Message.status.in_(_NOT_DELIVERED))
    )
    lead = carried[0]
    verdict = judge_failure(
        classify_delivery_error(code),
        stage=Stage.DELIVERY,
        attempts=lead.attempts,
        delivery_failures=failures or 0,
        deadline=min((r.deadline for r in carried if r.deadline is not None), default=None),
        now=now,
    )
    patient = db.get(Patient, lead.patient_id)
    assert patient is not None
    apply_message_verdict(db, planner, carried, patient, verdict, code, now)
    log.warning("message %s not delivered (code %s): %s", message.id, code, verdict.reason)
