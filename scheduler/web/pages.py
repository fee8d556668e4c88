"""Rendering pages: the Jinja2 environment, how pages write times and numbers, and what every page
needs (clinic, user, CSRF token)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from scheduler.domain.phones import readable
from scheduler.services.accounts import StaffUser
from scheduler.web.security import csrf_token

HERE = Path(__file__).resolve().parent
# Autoescaping is on for .html: a patient's name is always shown as text, never as markup.
templates = Jinja2Templates(directory=HERE / "templates")


def when(instant: datetime | None) -> str:
    """An aware time as staff read it, in its own zone: "Tue 3 Mar 2026 09:00 EST"."""
    if instant is None:
        return "-"
    return f"{instant:%a} {instant.day} {instant:%b %Y %H:%M} {instant.tzname()}"


def input_value(instant: datetime) -> str:
    """An aware time as a datetime-local input's value, in its own zone."""
    return f"{instant:%Y-%m-%dT%H:%M}"


def long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def phone(e164: str) -> str:
    """A number as people write it where it belongs: "(201) 555-0123"."""
    try:
        return readable(e164)
    except phonenumbers.NumberParseException:
        return e164


templates.env.filters.update(when=when, input_value=input_value, long_day=long_day, phone=phone)


def page(
    request: Request, name: str, user: StaffUser | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    flashes = request.session.pop("flashes", [])
    return templates.TemplateResponse(
        request,
        name,
        {
            "clinic_name": request.app.state.settings.clinic_name,
            "user": user,
            "csrf": csrf_token(request),
            "flashes": flashes,
            **context,
        },
        status_code=status_code,
    )


def flash(request: Request, message: str) -> None:
    request.session.setdefault("flashes", []).append(message)
