"""Message statuses only move forward: a late or repeated report never undoes a later one."""

from __future__ import annotations

from datetime import datetime

from scheduler.store.models import Message

# Our own states first (the attempt before the provider answered), then Twilio's in the order a
# message passes through them. Final states share the top rank: the first one reported stays.
RANK = {
    "submitting": 0,
    "unknown": 0,
    "not-sent": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})


def advance_message(message: Message, status: str, now: datetime) -> bool:
    """Move `message` to `status` if that is further along; True when it changed."""
    current = RANK.get(message.status, 0)
    new = RANK.get(status)
    if new is None or new <= current or (message.status in FINAL and status != "read"):
        return False
    message.status = status
    message.updated_at = now
    return True
