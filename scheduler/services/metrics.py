"""Operational figures: how far behind sending is, which workers are alive and ticking, and what
needs attention. No patient data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from scheduler.config import Settings
from scheduler.domain.states import MessageStatus, ReminderStatus
from scheduler.store.heartbeat import gone_count, live
from scheduler.store.models import Message, Reminder
from scheduler.store.outbox import CLAIMABLE, PENDING, SENDING, gone_workers

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
# The most workers listed: a fleet is a handful; the counts below are complete.
LISTED_WORKERS = 50


@dataclass(frozen=True)
class Limits:
    """When a worker counts as gone (`WORKER_STALE_SECONDS`), and when no tick in that long means
    that nothing is dispatching (`Settings.tick_overdue_after`)."""

    stale_after: timedelta
    tick_overdue_after: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.worker_stale_after, settings.tick_overdue_after)


class WorkerState(BaseModel):
    model_config = ConfigDict(frozen=True)

    worker: str
    alive_age_seconds: float  # since its last heartbeat
    last_tick_age_seconds: float | None  # since its last dispatch tick ended; None before the first
    sent_total: int


class Liveness(BaseModel):
    model_config = ConfigDict(frozen=True)

    workers: list[WorkerState]  # alive: heard from within the staleness limit
    workers_ticking: int  # alive, and a tick ended within the overdue limit
    workers_gone: int  # silent past the staleness limit, not yet swept
    last_tick_age_seconds: float | None  # the latest tick of a live worker


class Status(BaseModel):
    model_config = ConfigDict(frozen=True)

    oldest_due_age_seconds: float | None  # the oldest text that is due and still pending
    due_now: int
    pending_later: int
    expired_leases: int  # `sending` rows whose lease ran out
    claims_held_by_gone_workers: int  # `sending` rows whose worker's heartbeat stopped
    by_status: dict[str, int]
    sent_per_minute: float  # over the last five minutes
    workers: list[WorkerState]
    workers_ticking: int
    workers_gone: int
    last_tick_age_seconds: float | None


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


def liveness(db: DbSession, now: datetime, limits: Limits) -> Liveness:
    """Which workers are alive and which are ticking: cheap enough for every health check."""
    alive_since = now - limits.stale_after
    rows = live(db, alive_since)
    workers = [
        WorkerState(
            worker=w.id,
            alive_age_seconds=_age(now, w.alive_at) or 0.0,
            last_tick_age_seconds=_age(now, w.last_tick_at),
            sent_total=w.sent_total,
        )
        for w in rows[:LISTED_WORKERS]
    ]
    ticks = [w.last_tick_at for w in rows if w.last_tick_at is not None]
    overdue = now - limits.tick_overdue_after
    return Liveness(
        workers=workers,
        workers_ticking=sum(1 for tick in ticks if tick >= overdue),
        workers_gone=gone_count(db, alive_since),
        last_tick_age_seconds=_age(now, max(ticks, default=None)),
    )


def status(db: DbSession, now: datetime, limits: Limits) -> Status:
    oldest = db.scalar(select(func.min(Reminder.due_at)).where(CLAIMABLE, PENDING, Reminder.due_at <= now))
    due_now = db.scalar(
        select(func.count()).select_from(Reminder).where(CLAIMABLE, PENDING, Reminder.due_at <= now)
    )
    later = db.scalar(select(func.count()).select_from(Reminder).where(PENDING, Reminder.due_at > now))
    expired_leases = db.scalar(
        select(func.count()).select_from(Reminder).where(CLAIMABLE, SENDING, Reminder.lease_until < now)
    )
    orphaned = db.scalar(
        select(func.count())
        .select_from(Reminder)
        .where(CLAIMABLE, SENDING, Reminder.claimed_by.in_(gone_workers(now - limits.stale_after)))
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
    alive = liveness(db, now, limits)
    return Status(
        oldest_due_age_seconds=_age(now, oldest),
        due_now=due_now or 0,
        pending_later=later or 0,
        expired_leases=expired_leases or 0,
        claims_held_by_gone_workers=orphaned or 0,
        by_status={s.value: counts.get(s.value, 0) for s in COUNTED},
        sent_per_minute=(sent or 0) / 5,
        workers=alive.workers,
        workers_ticking=alive.workers_ticking,
        workers_gone=alive.workers_gone,
        last_tick_age_seconds=alive.last_tick_age_seconds,
    )
