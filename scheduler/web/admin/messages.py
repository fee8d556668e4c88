"""The log of texts and replies."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.errors import InvalidInput
from scheduler.services.timeline import MESSAGE_STATUSES, REPLY_INTENTS
from scheduler.web.admin.common import Staff, desk_of
from scheduler.web.pages import page


def routes(router: APIRouter) -> None:
    @router.get("/messages", response_class=HTMLResponse)
    def messages(request: Request, user: Staff, show: str = "all", status: str = "", q: str = "") -> Response:
        error = None
        try:
            entries = desk_of(request, user).message_log(show, status, q[:100])
        except InvalidInput as exc:
            entries, error = [], str(exc)
        return page(
            request,
            "messages.html",
            user,
            status_code=400 if error else 200,
            title="Messages",
            nav="messages",
            entries=entries,
            show=show,
            status=status,
            q=q[:100],
            message_statuses=MESSAGE_STATUSES,
            reply_intents=REPLY_INTENTS,
            error=error,
        )
