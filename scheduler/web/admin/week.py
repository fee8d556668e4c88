"""The week, day by day, and one day's sessions in pages."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.errors import InvalidInput
from scheduler.services.records import Paging
from scheduler.web.admin.common import Staff, desk_of
from scheduler.web.pages import page

DAY_PAGE = 50


def routes(router: APIRouter) -> None:
    @router.get("/week", response_class=HTMLResponse)
    def week(request: Request, user: Staff, start: str = "") -> Response:
        try:
            anchor = _date(start) if start else None
        except InvalidInput as exc:
            return page(request, "week.html", user, status_code=400, title="Week", nav="week", week=None,
                        error=str(exc))  # fmt: skip
        shown = desk_of(request, user).week(anchor)
        return page(request, "week.html", user, title="Week", nav="week", week=shown, error=None)

    @router.get("/week/day", response_class=HTMLResponse)
    def day(request: Request, user: Staff, date: str = "", offset: int = 0) -> Response:
        try:
            shown = desk_of(request, user).day(_date(date), Paging(DAY_PAGE, max(offset, 0)))
        except InvalidInput as exc:
            return page(request, "week.html", user, status_code=400, title="Week", nav="week", week=None,
                        error=str(exc))  # fmt: skip
        return page(request, "day.html", user, title=f"{shown.day:%a %d %b}", nav="week", d=shown,
                    offset=max(offset, 0), page_size=DAY_PAGE)  # fmt: skip


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise InvalidInput(f"{text.strip()[:20]!r} is not a date like YYYY-MM-DD", field="date") from None
