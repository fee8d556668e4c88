"""The events feed: what happened to patients, in order, for an EHR that reads rather than listens
(or that catches up on what its webhook missed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from scheduler.services.events import FEED_LIMIT, EventPage, Events, EventType
from scheduler.web.api_common import INVALID, MAX_ID, Client, call


def routes(router: APIRouter) -> None:
    @router.get(
        "/events",
        tags=["events"],
        summary="Read events",
        operation_id="listEvents",
        response_model=EventPage,
        responses={422: INVALID},
        description="Events in the order they happened (by id), each with its delivery to "
        "EVENT_WEBHOOK_URL (`unsent` when none was configured). Start without `after`, then pass "
        "each answer's `next`: no event is skipped or repeated, also while new ones are written. "
        "An event's `id` is the one its webhook POST carries. Events hold ids, times and the "
        "record number (`external_id`), never a name, a phone number or the words of a text.",
    )
    def list_events(
        request: Request,
        client: Client,
        after: Annotated[
            str | None,
            Query(max_length=40, description="The `next` of the previous page; none for the start."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=FEED_LIMIT, description="The most events to answer.")] = 100,
        type: Annotated[EventType | None, Query(description="Only events of this type.")] = None,
        patient_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="Only events about this patient.")
        ] = None,
    ) -> EventPage:
        app = request.app.state.app
        events = Events(app.settings, app.protocols, app.database, app.clock, f"api:{client}")
        return call(
            lambda: events.feed(after, limit, type, patient_id),
            fields={"after": ("query", "after"), "limit": ("query", "limit")},
        )
