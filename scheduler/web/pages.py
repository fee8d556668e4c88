"""Rendering pages: the Jinja2 environment and what every page needs (clinic, user, CSRF token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from scheduler.services.accounts import StaffUser
from scheduler.web.security import csrf_token

HERE = Path(__file__).resolve().parent
# Autoescaping is on for .html: a patient's name is always shown as text, never as markup.
templates = Jinja2Templates(directory=HERE / "templates")


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
