"""Who is asking: staff sessions kept server-side, CSRF tokens for every form, bearer tokens for the
API, and admin-only pages.

The session cookie is signed (SECRET_KEY) and carries only a random session token, the CSRF token
and pending flash messages; whether the session is still open is decided in the database
(`StaffSessions`), so signing out ends it wherever the cookie was copied to.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from fastapi import HTTPException, Request
from starlette.middleware.sessions import SessionMiddleware

from scheduler.config import Settings
from scheduler.errors import SignInRequired
from scheduler.services.accounts import Accounts, StaffUser
from scheduler.services.api_tokens import ApiTokens
from scheduler.services.staff_sessions import StaffSessions

log = logging.getLogger("scheduler.web")

SESSION_COOKIE = "reminders_session"
# Pages a user whose password someone else chose may still reach, to choose their own.
PASSWORD_PAGES = ("/password", "/logout")


class PasswordChangeRequired(SignInRequired):
    """Signed in with a password someone else chose: the user must choose their own first."""


def session_middleware_options(settings: Settings) -> dict[str, Any]:
    secret = settings.secret_key
    if not secret:
        # Fine for the demo and for tests; `reminders serve` refuses to run without SECRET_KEY
        # otherwise: sign-ins would not survive a restart or be shared by several web processes.
        log.warning("SECRET_KEY is not set: using a random key; sign-ins end when the service restarts")
        secret = secrets.token_urlsafe(32)
    https = (settings.public_base_url or "").startswith("https://")
    return {
        "secret_key": secret,
        "session_cookie": SESSION_COOKIE,
        "max_age": settings.session_max_hours * 3600,
        "same_site": "lax",
        "https_only": https,
    }


__all__ = ["SessionMiddleware", "session_middleware_options"]


def start_session(request: Request, user: StaffUser) -> None:
    """Sign `user` in on this browser: a new session, and a fresh cookie with no old state."""
    sessions: StaffSessions = request.app.state.staff_sessions
    request.session.clear()
    request.session["sid"] = sessions.start(user.id)


def end_session(request: Request) -> None:
    """Sign out: the session ends in the database, and the cookie is emptied."""
    sessions: StaffSessions = request.app.state.staff_sessions
    token = request.session.get("sid")
    if isinstance(token, str):
        sessions.end(token)
    request.session.clear()


def signed_in(request: Request) -> StaffUser | None:
    """The user whose session this browser holds, while it is open."""
    sessions: StaffSessions = request.app.state.staff_sessions
    accounts: Accounts = request.app.state.accounts
    token = request.session.get("sid")
    user_id = sessions.user_id(token) if isinstance(token, str) else None
    return accounts.user(user_id) if user_id is not None else None


def staff_user(request: Request) -> StaffUser:
    """The signed-in staff member, or SignInRequired (the app sends them to sign in)."""
    user = signed_in(request)
    if user is None:
        request.session.pop("sid", None)
        raise SignInRequired()
    if user.must_change_password and request.url.path not in PASSWORD_PAGES:
        raise PasswordChangeRequired()
    return user


def admin_user(request: Request) -> StaffUser:
    """The signed-in staff member if they are an admin; 403 otherwise."""
    user = staff_user(request)
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="Only an admin can do this.")
    return user


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use); every form carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: object) -> None:
    """Refuse a form post whose CSRF token is missing or not this session's."""
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and isinstance(submitted, str)) or not hmac.compare_digest(
        expected, submitted
    ):
        raise HTTPException(status_code=403, detail="The form has expired or was not sent from this site.")


def api_client(request: Request) -> str:
    """The name of the API token in the Authorization header; 401 otherwise."""
    tokens: ApiTokens = request.app.state.api_tokens
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    name = tokens.check(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if name is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return name
