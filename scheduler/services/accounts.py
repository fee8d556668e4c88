"""Staff accounts: argon2 password hashes, sign-in that does the same work for every email and is
slowed per account and address, passwords someone else chose replaced at first sign-in, and
accounts an admin can disable."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.errors import Conflict, InvalidInput, NotFound, SignInRefused
from scheduler.services.staff_sessions import end_sessions
from scheduler.store.models import SignInThrottle, User
from scheduler.store.uow import UnitOfWork

# After this many wrong passwords in a row for one account from one address, each further attempt
# from there must wait, doubling each time; the account's owner elsewhere is not held back.
FREE_ATTEMPTS = 5
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
# One address trying many accounts is slowed too, after more tries.
FREE_ATTEMPTS_PER_ADDRESS = 20
MIN_PASSWORD = 12
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_hasher = PasswordHasher()
# Verified against when an email has no account, so that sign-in costs the same either way.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    is_admin: bool
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        return f"user:{self.email}"


@dataclass(frozen=True)
class StaffAccount:
    """An account as the Staff page and `reminders users list` show it."""

    email: str
    is_admin: bool
    disabled: bool
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime


class Accounts:
    def __init__(self, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def add_user(
        self, email: str, password: str | None = None, *, admin: bool = False
    ) -> tuple[StaffUser, str]:
        """Create an account; returns it and its password. A generated password is for one
        sign-in: the new user must choose their own then."""
        address = normalise_email(email)
        generated = password is None
        chosen = secrets.token_urlsafe(12) if password is None else _checked_password(password)
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            user = User(
                email=address,
                password_hash=_hasher.hash(chosen),
                is_admin=admin,
                must_change_password=generated,
                password_changed_at=now,
                created_at=now,
            )
            uow.db.add(user)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(f"an account for {address} already exists", field="email") from None
            return _staff(user), chosen

    def has_users(self) -> bool:
        with UnitOfWork(self.database) as uow:
            return bool(uow.db.scalar(select(func.count()).select_from(User)))

    def ensure_first_admin(self, email: str = "admin@reminders.local") -> tuple[str, str] | None:
        """On a database with no accounts, create an admin; returns (email, one-time password)."""
        if self.has_users():
            return None
        user, password = self.add_user(email, admin=True)
        return user.email, password

    def sign_in(self, email: str, password: str, address: str = "") -> StaffUser:
        """The account `email` if `password` is its own; SignInRefused otherwise, saying the same
        for a wrong password and an unknown email, after the same work."""
        now = self.clock.now()
        email_key = email.strip().lower()[:254]
        keys = (f"account:{email_key}|from:{address}", f"from:{address}")
        with UnitOfWork(self.database) as uow:
            db = uow.db
            throttles = [_throttle(db, key, now) for key in keys]
            for throttle in throttles:
                if throttle.blocked_until is not None and now < throttle.blocked_until:
                    raise _too_many(throttle.blocked_until, now)
            user = db.scalars(select(User).where(User.email == email_key)).first()
            right = _verify(user.password_hash if user is not None else _NOBODY, password)
            if user is None or not right:
                for throttle, free in zip(throttles, (FREE_ATTEMPTS, FREE_ATTEMPTS_PER_ADDRESS), strict=True):
                    throttle.failures += 1
                    throttle.updated_at = now
                    if throttle.failures >= free:
                        throttle.blocked_until = now + _wait(throttle.failures - free)
                uow.commit()
                raise SignInRefused("wrong email or password")
            if user.disabled_at is not None:
                raise SignInRefused("this account is disabled; ask an admin")
            throttles[0].failures, throttles[0].blocked_until, throttles[0].updated_at = 0, None, now
            user.last_login_at = now
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            uow.commit()
            return _staff(user)

    def user(self, user_id: int) -> StaffUser | None:
        """The account, unless it is gone or disabled."""
        with UnitOfWork(self.database) as uow:
            user = uow.db.get(User, user_id)
            return None if user is None or user.disabled_at is not None else _staff(user)

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """The user's own change: the current password first. Every session of theirs ends."""
        with UnitOfWork(self.database) as uow:
            user = uow.db.get(User, user_id)
            if user is None or not _verify(user.password_hash, current):
                raise InvalidInput("the current password is not right", field="current")
            if secrets.compare_digest(current, new):
                raise InvalidInput("the new password must differ from the current one", field="new")
            self._set_password(uow.db, user, _checked_password(new, field="new"), chosen_by_user=True)
            uow.commit()

    def set_password(self, email: str, password: str | None = None) -> str:
        """An operator's or admin's reset: the given password, or a generated one the user must
        replace at their next sign-in. Every session of theirs ends. Returns the password."""
        chosen = secrets.token_urlsafe(12) if password is None else _checked_password(password)
        with UnitOfWork(self.database) as uow:
            user = _find(uow.db, email)
            self._set_password(uow.db, user, chosen, chosen_by_user=password is not None)
            uow.commit()
        return chosen

    def set_disabled(self, email: str, disabled: bool) -> None:
        """Disable an account (its sessions end at once) or enable it again."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            user = _find(uow.db, email)
            user.disabled_at = now if disabled else None
            if disabled:
                end_sessions(uow.db, user.id, now)
            uow.commit()

    def list_users(self) -> list[StaffAccount]:
        with UnitOfWork(self.database) as uow:
            return [
                StaffAccount(
                    u.email, u.is_admin, u.disabled_at is not None, u.must_change_password, u.last_login_at,
                    u.created_at,
                )
                for u in uow.db.scalars(select(User).order_by(User.email))
            ]  # fmt: skip

    def _set_password(self, db: DbSession, user: User, password: str, *, chosen_by_user: bool) -> None:
        now = self.clock.now()
        user.password_hash = _hasher.hash(password)
        user.must_change_password = not chosen_by_user
        user.password_changed_at = now
        end_sessions(db, user.id, now)


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    if not _EMAIL.fullmatch(address) or len(address) > 254:
        raise InvalidInput(f"{email.strip()[:60]!r} is not an email address", field="email")
    return address


def _find(db: DbSession, email: str) -> User:
    user = db.scalars(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise NotFound(f"no account for {email.strip()[:60]}")
    return user


def _staff(user: User) -> StaffUser:
    return StaffUser(user.id, user.email, user.is_admin, user.must_change_password)


def _checked_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters", field=field)
    return password


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttle(db: DbSession, key: str, now: datetime) -> SignInThrottle:
    found = db.get(SignInThrottle, key, with_for_update=True)
    if found is None:
        found = SignInThrottle(key=key, failures=0, blocked_until=None, updated_at=now)
        db.add(found)
    return found


def _wait(over: int) -> timedelta:
    return min(LONGEST_WAIT, FIRST_WAIT * (1 << min(over, 20)))


def _too_many(until: datetime, now: datetime) -> SignInRefused:
    seconds = max(1, int((until - now).total_seconds()))
    return SignInRefused(f"too many attempts; try again in {seconds} seconds", retry_after=seconds)
