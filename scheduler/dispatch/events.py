"""Delivering events: alerts texted to the on-call person, and signed POSTs to webhooks (the
staff alert webhook, and the EHR's EVENT_WEBHOOK_URL for `scheduler.services.events`).

Events are rows (`Event`), claimed like texts (`outbox.claim_events`) and delivered with no
transaction open, at least once: a receiver may see an event twice and can tell by its id. A
failure is tried again with a growing wait, and after `MAX_ATTEMPTS` the event is `failed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

import requests
from sqlalchemy import select

from scheduler.dispatch.context import SendContext
from scheduler.domain.templates import TextContext, render
from scheduler.errors import Failure, SmsSendError
from scheduler.services.alerts import Target
from scheduler.sms import OutgoingSms
from scheduler.store.models import Event
from scheduler.store.outbox import claim_events
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.events")

MAX_ATTEMPTS = 10
FIRST_WAIT = timedelta(seconds=15)
LONGEST_WAIT = timedelta(minutes=30)
WEBHOOK_TIMEOUT_SECONDS = 10.0
SIGNATURE_HEADER = "Reminders-Signature"
_GIVE_UP = (Failure.INVALID_NUMBER, Failure.OPTED_OUT, Failure.CONFIG, Failure.REVIEW)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Reminders-Signature` header: `t=UNIX_SECONDS,v1=HEX`, HEX being the HMAC-SHA256 of
    "{t}.{body}" with the shared secret. A receiver recomputes it and compares."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class EventDelivery:
    def __init__(self, ctx: SendContext, http: requests.Session | None = None) -> None:
        self.ctx = ctx
        self.http = http or requests.Session()

    def deliver(self, limit: int = 50) -> int:
        """Deliver what is due; returns how many events were delivered."""
        ctx = self.ctx
        now = ctx.clock.now()
        with UnitOfWork(ctx.database) as uow:
            ids = claim_events(
                uow.db, ctx.worker, now, now + ctx.settings.claim_lease, limit, ctx.silent_since(now)
            )
            uow.commit()
            events = list(uow.db.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.id)))
        delivered = 0
        for event in events:
            problem = self._deliver(event, now)
            delivered += self._record(event.id, problem)
        return delivered

    def _deliver(self, event: Event, now: datetime) -> tuple[str, bool] | None:
        """None when delivered, else what went wrong and whether trying again can help."""
        settings = self.ctx.settings
        if event.target == Target.STAFF_SMS:
            if not settings.staff_alert_phone:
                return "STAFF_ALERT_PHONE is no longer set", False
            name = "staff-alert" if event.patient_id is not None else "staff-alert-unknown"
            body = render(name, TextContext(settings.voice, patient=event.patient_id))
            try:
                self.ctx.sender.send(OutgoingSms(to=settings.staff_alert_phone, body=body))
            except SmsSendError as exc:
                return str(exc), exc.failure not in _GIVE_UP
            return None
        if event.target == Target.STAFF_WEBHOOK:
            return self._post(
                settings.staff_alert_webhook_url, settings.staff_alert_webhook_secret, event, now
            )
        if event.target == Target.EHR:
            return self._post(settings.event_webhook_url, settings.event_webhook_secret, event, now)
        return f"no webhook for target {event.target!r}", False

    def _post(
        self, url: str | None, secret: str | None, event: Event, now: datetime
    ) -> tuple[str, bool] | None:
        if not url or not secret:
            return "the webhook is no longer configured", False
        body = json.dumps(
            {"id": event.id, "type": event.kind, **event.payload}, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, int(now.timestamp()), body),
            "User-Agent": "treatment-reminders",
        }
        try:
            answer = self.http.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            return type(exc).__name__, True
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}", answer.status_code >= 500 or answer.status_code in (408, 429)

    def _record(self, event_id: int, problem: tuple[str, bool] | None) -> int:
        now = self.ctx.clock.now()
        with UnitOfWork(self.ctx.database) as uow:
            event = uow.db.get(Event, event_id, with_for_update=True)
            if event is None or event.status != "sending" or event.claimed_by != self.ctx.worker:
                return 0
            event.claimed_by, event.lease_until, event.updated_at = None, None, now
            if problem is None:
                event.status, event.delivered_at, event.last_error = "delivered", now, None
            else:
                error, retry = problem
                event.last_error = error[:200]
                if retry and event.attempts < MAX_ATTEMPTS:
                    wait = min(LONGEST_WAIT, FIRST_WAIT * (1 << (event.attempts - 1)))
                    event.status, event.due_at = "pending", now + wait
                else:
                    event.status = "failed"
                    log.critical("event %s (%s to %s) failed: %s", event.id, event.kind, event.target, error)
            uow.commit()
            return 1 if problem is None else 0
