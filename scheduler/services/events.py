"""Events for the clinic's EHR: what happened to a patient, as rows, for a webhook and a feed.

Every cause (a reply, an outcome, a provider's verdict) calls `record_event` in its own
transaction, so an event exists exactly when its change was committed. An event carries ids and
times only: the patient's id and record number (`external_id`), the session or message, never a
name, a phone number or the words of a text.

With EVENT_WEBHOOK_URL set, an event is `pending` and the workers POST it, signed, at least once
(`scheduler.dispatch.events`). Without it, the event is `unsent`: never claimed, and readable in
the feed (`GET /api/v1/events`) like every other. Configuring the webhook later does not send the
`unsent` ones; a receiver catches up from the feed.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from scheduler.config import Settings
from scheduler.domain.timeutil import zone
from scheduler.errors import InvalidInput, NotFound
from scheduler.services.alerts import Target
from scheduler.services.audit import audit
from scheduler.services.base import Service
from scheduler.store.models import Appointment, Event, Patient
from scheduler.store.uow import UnitOfWork


class EventType(StrEnum):
    """What happened."""

    APPOINTMENT_CONFIRMED = "appointment.confirmed"  # the patient replied C
    APPOINTMENT_CHANGE_REQUESTED = "appointment.change_requested"  # the patient replied R
    APPOINTMENT_MISSED = "appointment.missed"  # a session's outcome was recorded as missed
    PATIENT_OPTED_OUT = "patient.opted_out"  # STOP, or the provider's opt-out
    PATIENT_OPTED_IN = "patient.opted_in"  # START
    REPLY_URGENT = "reply.urgent"  # a reply that reads as a safety concern
    MESSAGE_FAILED = "message.failed"  # a message given up on
    PATIENT_PHONE_INVALID = "patient.phone_invalid"  # the number cannot take texts


class DeliveryState(StrEnum):
    """Where an event's delivery is."""

    UNSENT = "unsent"  # recorded while no webhook was configured: in the feed only
    PENDING = "pending"  # waiting for a worker (a first try, or a retry after a failure)
    SENDING = "sending"  # claimed by a worker
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up on after the last try; staff can retry it


FEED_LIMIT = 500  # the most events one page of the feed holds
_SCAN, _ROUNDS = 1000, 5  # rows the feed reads at a time, and how many times in one request
# An id not yet visible may belong to a transaction still running (PostgreSQL hands out ids
# before commit); the feed stops before such a gap until it is this old (then it was a rollback).
SETTLE = timedelta(seconds=60)


def record_event(
    db: DbSession,
    settings: Settings,
    kind: EventType,
    patient: Patient,
    now: datetime,
    *,
    appointment: Appointment | None = None,
    message_id: int | None = None,
    reply_id: int | None = None,
) -> None:
    """Add the event `kind` about `patient` to the caller's transaction."""
    payload: dict[str, object] = {
        "occurred_at": _iso(now),
        "patient_id": patient.id,
        "external_id": patient.external_id,
    }
    if appointment is not None:
        payload["appointment_id"] = appointment.id
        payload["session_starts_at"] = _iso(appointment.starts_at)
    if message_id is not None:
        payload["message_id"] = message_id
    if reply_id is not None:
        payload["reply_id"] = reply_id
    state = DeliveryState.PENDING if settings.event_webhook_url else DeliveryState.UNSENT
    db.add(
        Event(
            kind=kind,
            target=Target.EHR,
            patient_id=patient.id,
            payload=payload,
            status=state,
            attempts=0,
            due_at=now,
            created_at=now,
            updated_at=now,
        )
    )


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class EventView(BaseModel):
    """One event as the webhook's body has it, with where its delivery is."""

    id: int = Field(description="Unique and never reused: a receiver drops an event it has seen.")
    type: EventType
    occurred_at: datetime
    patient_id: int | None
    external_id: str | None = Field(description="The patient's record number, when they have one.")
    appointment_id: int | None = None
    session_starts_at: datetime | None = None
    message_id: int | None = None
    reply_id: int | None = None
    delivery: DeliveryState
    attempts: int = Field(description="POSTs tried so far.")
    delivered_at: datetime | None


class EventPage(BaseModel):
    """Events in id order; ask again with `after=next` for the ones after them."""

    events: list[EventView]
    next: str = Field(description="An opaque cursor: pass it as `after` to read on, now or later.")
    has_more: bool = Field(description="Whether more events were ready when this page was read.")


class StaffEvent(BaseModel):
    """A row of the staff's Events page (EHR events and urgent-reply alerts)."""

    id: int
    type: str
    target: str
    patient_id: int | None
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    can_retry: bool


class StaffEventPage(BaseModel):
    events: list[StaffEvent]
    total: int


def cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{event_id}".encode()).decode().rstrip("=")


def after_id(text: str | None) -> int:
    """The id a cursor stands for; a clear error for anything that is not one of ours."""
    if not text:
        return 0
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    number = raw[1:]
    if not raw.startswith("e") or not (number.isascii() and number.isdigit()) or len(number) > 12:
        raise InvalidInput("after is not a cursor this feed gave out", field="after")
    return int(number)


class Events(Service):
    """The feed for an EHR and the staff's view of events, with the staff's retry."""

    def feed(
        self,
        after: str | None,
        limit: int,
        kind: EventType | None = None,
        patient_id: int | None = None,
    ) -> EventPage:
        if not 1 <= limit <= FEED_LIMIT:
            raise InvalidInput(f"limit must be from 1 to {FEED_LIMIT}", field="limit")
        position = after_id(after)
        now = self.clock.now()
        found: list[EventView] = []
        more = done = False
        with UnitOfWork(self.database) as uow:
            for _ in range(_ROUNDS):
                rows = list(
                    uow.db.scalars(select(Event).where(Event.id > position).order_by(Event.id).limit(_SCAN))
                )
                for row in rows:
                    if row.id != position + 1 and row.created_at > now - SETTLE:
                        done = True  # an id between may still be committed: wait for it
                        break
                    if len(found) == limit:
                        more = done = True
                        break
                    position = row.id
                    if row.target == Target.EHR and _matches(row, kind, patient_id):
                        found.append(_view(row))
                if done or len(rows) < _SCAN:
                    break
            else:
                more = True  # read as much as one request may; the rest is for the next page
        return EventPage(events=found, next=cursor(position), has_more=more)

    def staff_list(self, state: str, offset: int, limit: int) -> StaffEventPage:
        if state and state not in set(DeliveryState):
            raise InvalidInput(f"{state[:20]!r} is not a delivery state", field="state")
        where = [Event.status == state] if state else []
        with UnitOfWork(self.database) as uow:
            total = uow.db.scalar(select(func.count()).select_from(Event).where(*where)) or 0
            rows = uow.db.scalars(
                select(Event).where(*where).order_by(Event.id.desc()).offset(max(offset, 0)).limit(limit)
            )
            tz = zone(self.settings.clinic_timezone)
            shown = [
                StaffEvent(
                    id=e.id,
                    type=e.kind,
                    target=e.target,
                    patient_id=e.patient_id,
                    state=e.status,
                    attempts=e.attempts,
                    last_error=e.last_error,
                    created_at=e.created_at.astimezone(tz),
                    delivered_at=e.delivered_at.astimezone(tz) if e.delivered_at else None,
                    can_retry=e.status == DeliveryState.FAILED,
                )
                for e in rows
            ]
        return StaffEventPage(events=shown, total=total)

    def retry(self, event_id: int) -> int:
        """Send a failed event again, from its first try; returns its id."""
        now = self.clock.now()

        def work(db: DbSession) -> int:
            event = db.get(Event, event_id, with_for_update=True)
            if event is None:
                raise NotFound(f"no event {event_id}")
            if event.status != DeliveryState.FAILED:
                raise InvalidInput(f"event {event_id} is {event.status}; only a failed event is retried")
            missing = _unconfigured(self.settings, event.target)
            if missing:
                raise InvalidInput(f"{missing} is not set: event {event_id} has nowhere to go")
            event.status, event.attempts, event.due_at, event.updated_at = DeliveryState.PENDING, 0, now, now
            audit(db, now, self.actor, "event-retry", event.patient_id, details={"event_id": event.id})
            return event.id

        return self.transaction(work)


def _unconfigured(settings: Settings, target: str) -> str | None:
    """The setting an event's target needs that is not set, if any."""
    if target == Target.EHR and not settings.event_webhook_url:
        return "EVENT_WEBHOOK_URL"
    if target == Target.STAFF_WEBHOOK and not settings.staff_alert_webhook_url:
        return "STAFF_ALERT_WEBHOOK_URL"
    if target == Target.STAFF_SMS and not settings.staff_alert_phone:
        return "STAFF_ALERT_PHONE"
    return None


def _matches(row: Event, kind: EventType | None, patient_id: int | None) -> bool:
    return (kind is None or row.kind == kind) and (patient_id is None or row.patient_id == patient_id)


def _view(row: Event) -> EventView:
    payload = row.payload
    return EventView.model_validate(
        {
            **payload,
            "id": row.id,
            "type": row.kind,
            "delivery": row.status,
            "attempts": row.attempts,
            "delivered_at": row.delivered_at,
        }
    )
