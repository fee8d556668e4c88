"""Signed-in browsers, kept server-side: a session ends when it is signed out, when its user's
password changes or the account is disabled, when it sits idle too long, and at an absolute end
however active it is."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.store.models import StaffSession, User
from scheduler.store.uow import UnitOfWork

# A session's last use is written at most this often (not on every request).
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def end_sessions(db: DbSession, user_id: int, now: datetime) -> None:
    """End every open session of a user (in the caller's transaction)."""
    db.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )


class StaffSessions:
    def __init__(
        self, database: sessionmaker[DbSession], clock: Clock, *, idle: timedelta, lifetime: timedelta
    ) -> None:
        self.database = database
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime

    def start(self, user_id: int) -> str:
        """A new session for the user; returns its token (the cookie's value)."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            uow.db.add(
                StaffSession(
                    token_hash=_digest(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                )
            )
            uow.commit()
        return token

    def user_id(self, token: str) -> int | None:
        """The user the session belongs to while it is open, or None (and it is ended if it has
        run out)."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            db = uow.db
            found = db.execute(
                select(StaffSession, User.disabled_at)
                .join(User, User.id == StaffSession.user_id)
                .where(StaffSession.token_hash == _digest(token))
            ).first()
            if found is None:
                return None
            session, disabled_at = found
            if session.ended_at is not None:
                return None
            if (
                disabled_at is not None
                or now >= session.expires_at
                or now - session.last_seen_at >= self.idle
            ):
                session.ended_at = now
                uow.commit()
                return None
            if now - session.last_seen_at >= TOUCH_EVERY:
                session.last_seen_at = now
                uow.commit()
            return session.user_id

    def end(self, token: str) -> None:
        """Sign out: the session ends for good, wherever its cookie is."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            uow.db.execute(
                update(StaffSession)
                .where(StaffSession.token_hash == _digest(token), StaffSession.ended_at.is_(None))
                .values(ended_at=now)
            )
            uow.commit()
