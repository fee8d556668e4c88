"""Alerting the on-call person when a reply reads as a safety concern.

An alert is a row (`Event`) written in the same transaction as the reply, and delivered by the
workers with retries (`scheduler.dispatch.events`): a text to STAFF_ALERT_PHONE and, where
STAFF_ALERT_WEBHOOK_URL is set, a signed POST. Neither carries a name or the reply's words.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session as DbSession

from scheduler.config import Settings
from scheduler.store.models import Event, Reply

URGENT_REPLY = "reply.urgent"


class Target(StrEnum):
    """Where an event goes."""

    STAFF_SMS = "staff-sms"
    STAFF_WEBHOOK = "staff-webhook"
    EHR = "ehr"  # EVENT_WEBHOOK_URL: the clinic's EHR (services/events.py)


def raise_alert(
    db: DbSession, settings: Settings, patient_id: int | None, reply: Reply, now: datetime
) -> None:
    """Queue the alerts for an urgent `reply` (flushed, so it has an id)."""
    link = (
        f"{settings.public_base_url}/patients/{patient_id}"
        if settings.public_base_url and patient_id
        else None
    )
    payload: dict[str, object] = {
        "event": URGENT_REPLY,
        "patient_id": patient_id,
        "reply_id": reply.id,
        "received_at": reply.received_at.isoformat(),
        "link": link,
    }
    targets = []
    if settings.staff_alert_phone:
        targets.append(Target.STAFF_SMS)
    if settings.staff_alert_webhook_url:
        targets.append(Target.STAFF_WEBHOOK)
    for target in targets:
        db.add(
            Event(
                kind=URGENT_REPLY,
                target=target,
                patient_id=patient_id,
                payload=payload,
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
                updated_at=now,
            )
        )
