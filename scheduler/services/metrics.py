"""Operational figures: how far behind sending is and what needs attention. No patient data."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.store.models import Message, Reminder, Worker
from scheduler.store.outbox import CLAIMABLE, PENDING

# Statuses worth counting for alerts; pending is counted separately (due now versus later).
COUNTED = (
    ReminderStatus.SENDING,
    ReminderStatus.UNKNOWN,
    ReminderStatus.FAILED,
    ReminderStatus.EXPIRED,
    ReminderStatus.SENT,
    ReminderStatus.DELIVERED,
    ReminderStatus.SKIPPED,
    ReminderStatus.CANCELLED,
)


class WorkerTick(BaseModel):
    model_config = ConfigDict(frozen=True)

    worker: str
    last_tick_age_seconds: float
    sent_total: int


class Status(BaseModel):
    model_config = ConfigDict(frozen=True)

    oldest_due_age_seconds: float | None  # the oldest text that is due and still pending
    due_now: int
    pending_later: int
    expired_leases: int  # `sending` rows whose worker stopped holding them
    by_status: dict[str, int]
    sent_per_minute: float  # over the last five minutes
    workers: list[WorkerTick]


def status(db: DbSession, now: datetime) -> Status:
    oldest = db.scalar(select(func.min(Reminder.due_at)).where(CLAIMABLE, PENDING, Reminder.due_at <= now))
    due_now = db.scalar(
        select(func.count()).select_from(Reminder).where(CLAIMABLE, PENDING, Reminder.due_at <= now)
    )
    later = db.scalar(select(func.count()).select_from(Reminder).where(PENDING, Reminder.due_at > now))
    expired_leases = db.scalar(
        select(func.count())
        .select_from(Reminder)
        .where(CLAIMABLE, Reminder.status == ReminderStatus.SENDING, Reminder.lease_until < now)
    )
    rows = db.execute(
        select(Reminder.status, func.count()).where(Reminder.status.in_(COUNTED)).group_by(Reminder.status)
    ).all()
    counts = {str(name): int(n) for name, n in rows}
    sent = db.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.created_at >= now - timedelta(minutes=5),
            Message.provider_sid.is_not(None)
            | Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
        )
    )
    workers = [
        WorkerTick(
            worker=w.id,
            last_tick_age_seconds=round((now - w.last_tick_at).total_seconds(), 1),
            sent_total=w.sent_total,
        )
        for w in db.scalars(select(Worker).order_by(Worker.last_tick_at.desc()).limit(50))
    ]
    return Status(
        oldest_due_age_seconds=None if oldest is None else round((now - oldest).total_seconds(), 1),
        due_now=due_now or 0,
        pending_later=later or 0,
        expired_leases=expired_leases or 0,
        by_status={s.value: counts.get(s.value, 0) for s in COUNTED},
        sent_per_minute=(sent or 0) / 5,
        workers=workers,
    )
