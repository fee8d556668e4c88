"""The Events page: what was recorded for the EHR (and the urgent-reply alerts), with where each
one's delivery is, and a retry for one that failed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.errors import InvalidInput
from scheduler.services.accounts import StaffUser
from scheduler.services.events import DeliveryState, Events
from scheduler.web.admin.common import PostedForm, Staff, act, field, safe_next
from scheduler.web.pages import page

EVENTS_PAGE = 50


def events_of(request: Request, user: StaffUser) -> Events:
    app = request.app.state.app
    return Events(app.settings, app.protocols, app.database, app.clock, user.actor)


def routes(router: APIRouter) -> None:
    @router.get("/events", response_class=HTMLResponse)
    def events(request: Request, user: Staff, state: str = "", offset: int = 0) -> Response:
        offset, state = max(offset, 0), state[:20]
        try:
            shown = events_of(request, user).staff_list(state, offset, EVENTS_PAGE)
        except InvalidInput as exc:
            return page(request, "events.html", user, status_code=400, title="Events", nav="events",
                        shown=None, state=state, states=list(DeliveryState), error=str(exc))  # fmt: skip
        here = f"/events?state={state}&offset={offset}"
        return page(request, "events.html", user, title="Events", nav="events", shown=shown, state=state,
                    states=list(DeliveryState), offset=offset, page_size=EVENTS_PAGE, here=here,
                    error=None)  # fmt: skip

    @router.post("/events/{event_id}/retry")
    def retry(request: Request, user: Staff, event_id: int, form: PostedForm) -> Response:
        back = safe_next(field(form, "next", 300) or "/events")
        events = events_of(request, user)
        return act(request, back, f"Event {event_id} will be sent again.", lambda: events.retry(event_id))
