"""Delivery reports from the provider: where each text got to, and what a failure means."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.outcomes import RetryPolicy, Stage, judge_failure
from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.services.outcomes import apply_verdict
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
    def __init__(self, settings: Settings, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock

    def apply(self, report: DeliveryReport) -> bool:
        """Apply a status callback; False when it names no message of ours. Idempotent, and a
        report that arrives late never moves a message or its reminder backwards."""
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
            if message.provider_sid is None and report.provider_sid:
                # The create response was lost; the callback tells us the send did happen.
                message.provider_sid = report.provider_sid
            if not advance_message(message, report.status, now):
                uow.commit()
                return True
            if report.error_code is not None:
                message.error_code = report.error_code
            reminder = db.get(Reminder, message.reminder_id) if message.reminder_id else None
            if reminder is not None and _latest_message_id(db, reminder.id) == message.id:
                self._settle(db, reminder, message, now)
            uow.commit()
            return True

    def _settle(self, db: DbSession, reminder: Reminder, message: Message, now: datetime) -> None:
        if reminder.status not in _SETTLEABLE:
            return
        if message.status in (MessageStatus.SENT, *_DELIVERED):
            if reminder.status == ReminderStatus.UNKNOWN:
                reminder.sent_at = now
                reminder.reason = None
            delivered = message.status in _DELIVERED
            reminder.status = ReminderStatus.DELIVERED if delivered else ReminderStatus.SENT
            reminder.provider_sid = message.provider_sid
            reminder.updated_at = now
        elif message.status in _NOT_DELIVERED:
            undelivered(db, self.settings, reminder, message.error_code, now)


def undelivered(
    db: DbSession, settings: Settings, reminder: Reminder, code: int | None, now: datetime
) -> None:
    """A text the provider took did not reach the handset: judge it as every failure is judged."""
    failures = db.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.reminder_id == reminder.id, Message.status.in_(_NOT_DELIVERED))
    )
    verdict = judge_failure(
        classify_delivery_error(code),
        stage=Stage.DELIVERY,
        attempts=reminder.attempts,
        delivery_failures=failures or 0,
        deadline=reminder.deadline,
        now=now,
        policy=RetryPolicy(),
        rng=random.Random(),
    )
    patient = db.get(Patient, reminder.patient_id)
    assert patient is not None
    apply_verdict(db, settings, reminder, patient, verdict, code, now)
    log.warning("reminder %s not delivered (code %s): %s", reminder.id, code, reminder.reason)


def _latest_message_id(db: DbSession, reminder_id: int) -> int | None:
    return db.scalar(select(func.max(Message.id)).where(Message.reminder_id == reminder_id))
