"""Worker heartbeats: each dispatch tick says when it ran, so staff and monitors can see it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.store.models import Worker
from scheduler.store.uow import UnitOfWork


def record_tick(
    database: sessionmaker[DbSession], worker: str, started_at: datetime, now: datetime, sent: int
) -> None:
    with UnitOfWork(database) as uow:
        updated = uow.db.execute(
            update(Worker)
            .where(Worker.id == worker)
            .values(last_tick_at=now, sent_total=Worker.sent_total + sent)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            uow.db.add(Worker(id=worker, started_at=started_at, last_tick_at=now, sent_total=sent))
        uow.commit()


def last_tick(db: DbSession) -> datetime | None:
    value: datetime | None = db.scalar(select(func.max(Worker.last_tick_at)))
    return value
