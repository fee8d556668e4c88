"""Staff accounts and API tokens: argon2 password hashes, sign-in slowed after repeated failures,
and bearer tokens of which only a hash is kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.errors import Conflict, InvalidInput, SignInRefused
from scheduler.store.models import ApiToken, User
from scheduler.store.uow import UnitOfWork

# After this many wrong passwords in a row, each further attempt must wait, doubling each time.
FREE_ATTEMPTS = 5
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
MIN_PASSWORD = 12
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    is_admin: bool

    @property
    def actor(self) -> str:
        return f"user:{self.email}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.database = database
        self.clock = clock
        # Failures for emails that have no account, so that probing them is slowed the same way.
        self._unknown: dict[str, tuple[int, datetime | None]] = {}
        self._lock = threading.Lock()

    def add_user(
        self, email: str, password: str | None = None, *, admin: bool = False
    ) -> tuple[StaffUser, str]:
        """Create an account; returns it and its password (generated when none is given)."""
        address = normalise_email(email)
        if password is None:
            password = secrets.token_urlsafe(12)
        elif len(password) < MIN_PASSWORD:
            raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters", field="password")
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            user = User(
                email=address,
                password_hash=_hasher.hash(password),
                is_admin=admin,
                failed_logins=0,
                created_at=now,
            )
            uow.db.add(user)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(f"an account for {address} already exists", field="email") from None
            return StaffUser(user.id, user.email, user.is_admin), password

    def has_users(self) -> bool:
        with UnitOfWork(self.database) as uow:
            return bool(uow.db.scalar(select(func.count()).select_from(User)))

    def ensure_first_admin(self, email: str = "admin@reminders.local") -> tuple[str, str] | None:
        """On a database with no accounts, create an admin; returns (email, one-time password)."""
        if self.has_users():
            return None
        user, password = self.add_user(email, admin=True)
        return user.email, password

    def sign_in(self, email: str, password: str) -> StaffUser:
        now = self.clock.now()
        address = email.strip().lower()
        with UnitOfWork(self.database) as uow:
            user = uow.db.scalars(select(User).where(User.email == address).with_for_update()).first()
            if user is None:
                self._fail_unknown(address, now)
                raise SignInRefused("wrong email or password")
            if user.blocked_until is not None and now < user.blocked_until:
                raise _too_many(user.blocked_until, now)
            if not _verify(user.password_hash, password):
                user.failed_logins += 1
                if user.failed_logins >= FREE_ATTEMPTS:
                    user.blocked_until = now + _wait(user.failed_logins)
                uow.commit()
                raise SignInRefused("wrong email or password")
            user.failed_logins, user.blocked_until, user.last_login_at = 0, None, now
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            uow.commit()
            return StaffUser(user.id, user.email, user.is_admin)

    def user(self, user_id: int) -> StaffUser | None:
        with UnitOfWork(self.database) as uow:
            user = uow.db.get(User, user_id)
            return None if user is None else StaffUser(user.id, user.email, user.is_admin)

    def _fail_unknown(self, address: str, now: datetime) -> None:
        with self._lock:
            failures, blocked = self._unknown.get(address, (0, None))
            if blocked is not None and now < blocked:
                raise _too_many(blocked, now)
            failures += 1
            blocked = now + _wait(failures) if failures >= FREE_ATTEMPTS else None
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[address] = (failures, blocked)

    # -- API tokens ----------------------------------------------------------------------------

    def add_token(self, name: str) -> str:
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

    def check_token(self, token: str) -> str | None:
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


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    if not _EMAIL.fullmatch(address) or len(address) > 254:
        raise InvalidInput(f"{email.strip()!r} is not an email address", field="email")
    return address


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _wait(failures: int) -> timedelta:
    return min(LONGEST_WAIT, FIRST_WAIT * (1 << (failures - FREE_ATTEMPTS)))


def _too_many(until: datetime, now: datetime) -> SignInRefused:
    seconds = max(1, int((until - now).total_seconds()))
    return SignInRefused(f"too many attempts; try again in {seconds} seconds", retry_after=seconds)
