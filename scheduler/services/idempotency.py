"""Remembered answers for POSTs made with an `Idempotency-Key`.

A client that did not hear back (a timeout, a dropped connection) sends the same request again
with the same key and gets the first answer, instead of enrolling a patient twice. A key is kept
for `RETENTION` after it was first used; the same key with a different request is refused, and a
retry that arrives while the first is still being answered is told to try again shortly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.store.models import IdempotencyKey
from scheduler.store.uow import UnitOfWork

RETENTION = timedelta(hours=24)


class Found(Enum):
    NEW = "new"  # the first time: answer the request, then `finish`
    REPLAY = "replay"  # answered before: send `Answer` again
    OTHER_REQUEST = "other-request"  # the key came with a different request
    IN_PROGRESS = "in-progress"  # the first request is still being answered


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class IdempotencyKeys:
    def __init__(self, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def begin(self, client: str, key: str, fingerprint: str) -> tuple[Found, Answer | None]:
        """Look the key up, claiming it for this request if it is new."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            uow.db.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
            row = uow.db.scalar(
                select(IdempotencyKey).where(IdempotencyKey.client == client, IdempotencyKey.key == key)
            )
            if row is None:
                uow.db.add(
                    IdempotencyKey(
                        client=client,
                        key=key,
                        fingerprint=fingerprint,
                        created_at=now,
                        expires_at=now + RETENTION,
                    )
                )
                try:
                    uow.commit()
                except IntegrityError:  # the same key, at the same moment, from another request
                    return Found.IN_PROGRESS, None
                return Found.NEW, None
            uow.commit()
            if row.fingerprint != fingerprint:
                return Found.OTHER_REQUEST, None
            if row.status_code is None:
                return Found.IN_PROGRESS, None
            return Found.REPLAY, Answer(row.status_code, dict(row.headers or {}), row.body or b"")

    def finish(self, client: str, key: str, answer: Answer) -> None:
        """Keep the answer to send again."""
        with UnitOfWork(self.database) as uow:
            row = uow.db.scalar(
                select(IdempotencyKey).where(IdempotencyKey.client == client, IdempotencyKey.key == key)
            )
            if row is not None:
                row.status_code, row.headers, row.body = answer.status_code, answer.headers, answer.body
            uow.commit()

    def forget(self, client: str, key: str) -> None:
        """Release the key: the request was not answered in a way worth repeating (a 5xx, a 401),
        so a retry runs afresh."""
        with UnitOfWork(self.database) as uow:
            uow.db.execute(
                delete(IdempotencyKey).where(IdempotencyKey.client == client, IdempotencyKey.key == key)
            )
            uow.commit()
