"""Message statuses only move forward: a late or repeated report never undoes a later one."""

from __future__ import annotations

from datetime import datetime

from scheduler.domain.states import MessageStatus as M
from scheduler.store.models import Message

# Our own states first (the attempt before the provider answered), then Twilio's in the order a
# message passes through them. Final states share the top rank: the first one reported stays.
RANK: dict[str, int] = {
    M.SUBMITTING: 0,
    M.UNKNOWN: 0,
    M.NOT_SENT: 0,
    M.ACCEPTED: 1,
    M.SCHEDULED: 1,
    M.QUEUED: 2,
    M.SENDING: 3,
    M.SENT: 4,
    M.DELIVERED: 5,
    M.UNDELIVERED: 5,
    M.FAILED: 5,
    M.CANCELED: 5,
    M.READ: 6,
}
FINAL = frozenset({M.DELIVERED, M.UNDELIVERED, M.FAILED, M.CANCELED, M.READ})


def advance_message(message: Message, status: str, now: datetime) -> bool:
    """Move `message` to `status` if that is further along; True when it changed."""
    current = RANK.get(message.status, 0)
    new = RANK.get(status)
    if new is None or new <= current or (message.status in FINAL and status != M.READ):
        return False
    message.status = status
    message.updated_at = now
    return True
