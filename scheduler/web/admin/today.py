"""Today, and marking its items handled."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.web.admin.common import PostedForm, Staff, act, desk_of, field, safe_next
from scheduler.web.pages import page


def routes(router: APIRouter) -> None:
    @router.get("/", response_class=HTMLResponse)
    def today(request: Request, user: Staff) -> Response:
        return page(
            request, "today.html", user, title="Today", nav="today", today=desk_of(request, user).today()
        )

    @router.post("/handled")
    def mark_handled(request: Request, user: Staff, form: PostedForm) -> Response:
        item = field(form, "item", 80)
        desk = desk_of(request, user)
        return act(
            request,
            safe_next(field(form, "next") or "/"),
            "Marked as handled.",
            lambda: desk.mark_handled(item),
        )
