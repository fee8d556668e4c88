"""Who is asking: signed session cookies and CSRF tokens for staff, bearer tokens for the API."""

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

log = logging.getLogger("scheduler.web")

SESSION_COOKIE = "reminders_session"
SESSION_HOURS = 12


def session_middleware_options(settings: Settings) -> dict[str, Any]:
    secret = settings.secret_key
    if not secret:
        # Fine for one process on a laptop; sign-ins do not survive a restart and several web
        # processes would not share them, so production sets SECRET_KEY.
        log.warning("SECRET_KEY is not set: using a random key; sign-ins end when the service restarts")
        secret = secrets.token_urlsafe(32)
    https = (settings.public_base_url or "").startswith("https://")
    return {
        "secret_key": secret,
        "session_cookie": SESSION_COOKIE,
        "max_age": SESSION_HOURS * 3600,
        "same_site": "lax",
        "https_only": https,
    }


__all__ = ["SessionMiddleware", "session_middleware_options"]


def staff_user(request: Request) -> StaffUser:
    """The signed-in staff member, or SignInRequired."""
    accounts: Accounts = request.app.state.accounts
    user_id = request.session.get("user_id")
    user = accounts.user(user_id) if isinstance(user_id, int) else None
    if user is None:
        raise SignInRequired()
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
    accounts: Accounts = request.app.state.accounts
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    name = accounts.check_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if name is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return name
