"""Bearer tokens for the JSON API: only a hash of each is kept; tokens can be listed and revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.store.models import ApiToken
from scheduler.store.uow import UnitOfWork


@dataclass(frozen=True)
class TokenView:
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokens:
    def __init__(self, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def add(self, name: str) -> str:
        """Create a token called `name`; returns it. It cannot be shown again."""
        label = name.strip()
        if not label or len(label) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
        token = "rmd_" + secrets.token_urlsafe(32)
        with UnitOfWork(self.database) as uow:
            uow.db.add(ApiToken(name=label, token_hash=token_digest(token), created_at=self.clock.now()))
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(f"a token called {label!r} already exists", field="name") from None
        return token

    def check(self, token: str) -> str | None:
        """The name of the live token `token` is, or None."""
        digest = token_digest(token)
        with UnitOfWork(self.database) as uow:
            found = uow.db.scalars(
                select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            ).first()
            if found is None or not hmac.compare_digest(found.token_hash, digest):
                return None
            found.last_used_at = self.clock.now()
            uow.commit()
            return found.name

    def list(self) -> list[TokenView]:
        with UnitOfWork(self.database) as uow:
            return [
                TokenView(t.name, t.created_at, t.last_used_at, t.revoked_at)
                for t in uow.db.scalars(select(ApiToken).order_by(ApiToken.name))
            ]

    def revoke(self, name: str) -> None:
        """The token stops working at once; it stays listed, revoked."""
        with UnitOfWork(self.database) as uow:
            found = uow.db.scalars(select(ApiToken).where(ApiToken.name == name.strip())).first()
            if found is None:
                raise NotFound(f"no token called {name.strip()[:100]!r}")
            if found.revoked_at is None:
                found.revoked_at = self.clock.now()
            uow.commit()
