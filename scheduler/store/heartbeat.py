"""Worker rows: a heartbeat from a thread of each worker's own, its dispatch ticks, and its end.

A worker is alive while its `alive_at` is recent; one silent for longer than the staleness limit
is gone. Its claims are then taken over (`outbox.abandoned`), and its row is swept once even its
leases have run out. A worker that stops cleanly removes its own row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.store.models import Event, Reminder, Worker
from scheduler.store.outbox import SENDING
from scheduler.store.uow import UnitOfWork

# When a worker that stopped with claims still held was last heard from: long enough ago that it
# counts as gone at once.
GONE = datetime(2000, 1, 1, tzinfo=UTC)


def beat(database: sessionmaker[DbSession], worker: str, started_at: datetime, now: datetime) -> None:
    """Record that `worker` is alive; its first beat registers it."""
    with UnitOfWork(database) as uow:
        updated = uow.db.execute(update(Worker).where(Worker.id == worker).values(alive_at=now))
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            uow.db.add(
                Worker(id=worker, started_at=started_at, alive_at=now, last_tick_at=None, sent_total=0)
            )
        uow.commit()


def record_tick(
    database: sessionmaker[DbSession], worker: str, started_at: datetime, now: datetime, sent: int
) -> None:
    """Record that `worker` finished a dispatch tick that sent `sent` texts (a tick is a sign of
    life too)."""
    with UnitOfWork(database) as uow:
        updated = uow.db.execute(
            update(Worker)
            .where(Worker.id == worker)
            .values(last_tick_at=now, alive_at=now, sent_total=Worker.sent_total + sent)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            uow.db.add(
                Worker(id=worker, started_at=started_at, alive_at=now, last_tick_at=now, sent_total=sent)
            )
        uow.commit()


def retire(database: sessionmaker[DbSession], worker: str) -> None:
    """A worker stops: it leaves the table, or, if it still holds claims (a batch that failed
    unexpectedly), it is marked gone so that they are taken over now, not when their lease ends."""
    with UnitOfWork(database) as uow:
        db = uow.db
        held = db.scalar(
            select(func.count()).select_from(Reminder).where(SENDING, Reminder.claimed_by == worker)
        ) or db.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.status == literal_column("'sending'"), Event.claimed_by == worker)
        )
        if held:
            db.execute(update(Worker).where(Worker.id == worker).values(alive_at=GONE))
        else:
            db.execute(delete(Worker).where(Worker.id == worker))
        uow.commit()


def sweep(database: sessionmaker[DbSession], silent_since: datetime) -> int:
    """Remove workers silent since before `silent_since`; how many. Called with a time past both
    the staleness limit and the lease, when no claim of theirs can be left to take over early."""
    with UnitOfWork(database) as uow:
        removed = uow.db.execute(delete(Worker).where(Worker.alive_at < silent_since))
        uow.commit()
    return int(removed.rowcount)  # type: ignore[attr-defined]


def live(db: DbSession, alive_since: datetime) -> list[Worker]:
    """Workers heard from since `alive_since`, the most recently started first."""
    return list(
        db.scalars(select(Worker).where(Worker.alive_at >= alive_since).order_by(Worker.started_at.desc()))
    )


def gone_count(db: DbSession, alive_since: datetime) -> int:
    """Workers silent since before `alive_since` and not yet swept."""
    return int(db.scalar(select(func.count()).select_from(Worker).where(Worker.alive_at < alive_since)) or 0)
