"""Sends in doubt, looked up at the provider before anything else happens to them.

Two kinds of doubt, one lookup: an attempt a dead worker left `submitting` (it may have gone out
just before the crash), and a send whose outcome is `unknown` (a timeout, a 5xx). Either is
searched for in the provider's message log; found, it is recorded as sent and never sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from scheduler.dispatch.context import Counts, SendContext
from scheduler.domain.states import MessageStatus, Reason, ReminderStatus
from scheduler.errors import SmsSendError
from scheduler.sms import ProviderMessage
from scheduler.store.models import Message, Reminder
from scheduler.store.outbox import held, interrupted_attempts, release, unknown_sends
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")

# Messages created this long before our attempt row still count as that attempt.
PROVIDER_CLOCK_SKEW = timedelta(seconds=60)
# A lookup that could not reach the provider is tried again this much later.
LOOKUP_RETRY = timedelta(minutes=1)


def find_sent(ctx: SendContext, to: str, body: str, attempted_at: datetime) -> ProviderMessage | None:
    """The provider's record of our text to `to` made at `attempted_at`, or None if it has none.

    Raises SmsSendError when the provider cannot be asked.
    """
    found = ctx.sender.recent_messages(to, attempted_at - PROVIDER_CLOCK_SKEW)
    ours = ctx.settings.twilio_messaging_service_sid, ctx.settings.twilio_from_number
    # The list is already limited to the number and to messages created since our attempt; the
    # same body from our own sender is our text.
    for message in found:
        if message.body != body:
            continue
        sender = message.messaging_service_sid, message.from_
        if not any(ours) or any(mine and mine in sender for mine in ours):
            return message
    return None


def record_sent(reminder: Reminder, provider_sid: str | None, now: datetime) -> None:
    reminder.provider_sid = provider_sid
    reminder.sent_at = now
    reminder.error_code = None
    release(reminder, now, status=ReminderStatus.SENT, count_attempt=True)


def settle_interrupted(ctx: SendContext, reminder_id: int, counts: Counts) -> bool:
    """Look up the attempts a dead worker left `submitting` for a text this worker now holds.

    Returns True when the text is still to be judged and, perhaps, sent. If an earlier attempt
    did go out, it is recorded as the send; if the provider cannot be asked, the text waits for a
    later tick rather than risk a second copy.
    """
    with UnitOfWork(ctx.database) as uow:
        attempts = interrupted_attempts(uow.db, [reminder_id]).get(reminder_id, [])
    if not attempts:
        return True
    oldest = attempts[0]
    try:
        match = find_sent(ctx, oldest.to, oldest.body, oldest.created_at)
    except SmsSendError as exc:
        log.warning("could not look up an interrupted send of reminder %s (%s); will try again",
                    reminder_id, exc)  # fmt: skip
        now = ctx.clock.now()
        with UnitOfWork(ctx.database) as uow:
            reminder = held(uow.db, reminder_id, ctx.worker)
            if reminder is not None:
                release(reminder, now, due_at=now + LOOKUP_RETRY)
            uow.commit()
        return False
    now = ctx.clock.now()
    with UnitOfWork(ctx.database) as uow:
        db = uow.db
        for earlier in attempts:
            row = db.get(Message, earlier.id)
            assert row is not None
            if match is not None and earlier is oldest:
                row.status, row.provider_sid = match.status or MessageStatus.SENT, match.sid
            else:
                row.status = MessageStatus.NOT_SENT
            row.updated_at = now
        reminder = held(db, reminder_id, ctx.worker)
        if match is not None and reminder is not None:
            record_sent(reminder, match.sid, now)
            # An interrupted attempt was the one that went out; this claim sent nothing.
            reminder.attempts = max(1, reminder.attempts - 1)
        uow.commit()
    if match is None:
        return True
    counts.add("sent")
    log.info("reminder %s: interrupted send found at the provider; not sent again", reminder_id)
    return False


def reconcile(ctx: SendContext, limit: int = 100) -> Counts:
    """Settle texts left `unknown` (a timeout, a 5xx) by looking them up at the provider.

    Found: the text was sent, so it is recorded as sent and never sent again. Not found once
    `reconcile_after` has passed: back to pending if it can still be useful, else expired.
    """
    counts = Counts()
    now = ctx.clock.now()
    with UnitOfWork(ctx.database) as uow:
        doubtful = unknown_sends(uow.db, now - ctx.options.reconcile_after, limit)
    for send in doubtful:
        try:
            match = find_sent(ctx, send.to, send.body, send.attempted_at)
        except SmsSendError as exc:
            log.warning("reconciler could not reach the provider (%s); will try again", exc)
            break
        with UnitOfWork(ctx.database) as uow:
            db = uow.db
            reminder = db.get(Reminder, send.reminder_id, with_for_update=True)
            message = db.get(Message, send.message_id)
            assert reminder is not None
            assert message is not None
            # Another reconciler may have settled it, and a retry left a newer `unknown`
            # attempt: that one gets its own lookup after its own wait.
            if reminder.status != ReminderStatus.UNKNOWN or message.status != MessageStatus.UNKNOWN:
                continue
            if match is not None:
                message.status, message.provider_sid = match.status or MessageStatus.SENT, match.sid
                message.error_code = match.error_code
                record_sent(reminder, match.sid, now)
                counts.add("sent")
            elif reminder.deadline is not None and now >= reminder.deadline:
                message.status = MessageStatus.NOT_SENT
                release(
                    reminder, now, status=ReminderStatus.EXPIRED, reason=Reason.TOO_LATE, count_attempt=True
                )
                counts.add("expired")
            else:
                message.status = MessageStatus.NOT_SENT
                release(reminder, now, due_at=now, count_attempt=True)
                counts.add("retry")
            message.updated_at = now
            uow.commit()
        log.info("reconciled reminder %s: %s", send.reminder_id, "found" if match else "not found")
    return counts
