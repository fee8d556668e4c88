"""Operational figures: how far behind sending is and what needs attention. No patient data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.dispatch.claims import CLAIMABLE, PENDING
from scheduler.store.models import Message, Reminder, Worker

# Statuses worth counting for alerts; pending is counted separately (due now versus later).
COUNTED = ("sending", "unknown", "failed", "expired", "sent", "delivered", "skipped", "cancelled")


@dataclass(frozen=True)
class WorkerTick:
    worker: str
    last_tick_age_seconds: float
    sent_total: int


@dataclass(frozen=True)
class Status:
    oldest_due_age_seconds: float | None  # the oldest text that is due and still pending
    due_now: int
    pending_later: int
    expired_leases: int  # `sending` rows whose worker stopped holding them
    by_status: dict[str, int]
    sent_last_5_minutes: int
    workers: list[WorkerTick] = field(default_factory=list)

    @property
    def sent_per_minute(self) -> float:
        return self.sent_last_5_minutes / 5

    def as_dict(self) -> dict[str, object]:
        return {
            "oldest_due_age_seconds": self.oldest_due_age_seconds,
            "due_now": self.due_now,
            "pending_later": self.pending_later,
            "expired_leases": self.expired_leases,
            "by_status": self.by_status,
            "sent_per_minute": self.sent_per_minute,
            "workers": [w.__dict__ for w in self.workers],
        }


def status(db: Session, now: datetime) -> Status:
    oldest = db.scalar(select(func.min(Reminder.due_at)).where(CLAIMABLE, PENDING, Reminder.due_at <= now))
    due_now = db.scalar(
        select(func.count()).select_from(Reminder).where(CLAIMABLE, PENDING, Reminder.due_at <= now)
    )
    later = db.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.status == "pending", Reminder.due_at > now)
    )
    expired_leases = db.scalar(
        select(func.count())
        .select_from(Reminder)
        .where(CLAIMABLE, Reminder.status == "sending", Reminder.lease_until < now)
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
            Message.provider_sid.is_not(None) | Message.status.in_(("sent", "delivered")),
        )
    )
    workers = [
        WorkerTick(w.id, round((now - w.last_tick_at).total_seconds(), 1), w.sent_total)
        for w in db.scalars(select(Worker).order_by(Worker.last_tick_at.desc()).limit(50))
    ]
    return Status(
        oldest_due_age_seconds=None if oldest is None else round((now - oldest).total_seconds(), 1),
        due_now=due_now or 0,
        pending_later=later or 0,
        expired_leases=expired_leases or 0,
        by_status={s: int(counts.get(s, 0)) for s in COUNTED},
        sent_last_5_minutes=sent or 0,
        workers=workers,
    )
