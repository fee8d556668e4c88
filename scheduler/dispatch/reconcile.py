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
from scheduler.store.outbox import held, interrupted_attempts, record_sent, release, unknown_sends
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


def settle_interrupted(ctx: SendContext, reminder_ids: list[int], counts: Counts) -> list[int]:
    """Look up the attempt a dead worker left `submitting` for texts this worker now holds (texts
    that attempt carried together).

    Returns the texts still to be judged and, perhaps, sent. If the attempt did go out, it is
    recorded as the send of every text it carried; if the provider cannot be asked, the texts wait
    for a later tick rather than risk a second copy.
    """
    with UnitOfWork(ctx.database) as uow:
        found = interrupted_attempts(uow.db, reminder_ids)
    attempts = sorted({m.id: m for rows in found.values() for m in rows}.values(), key=lambda m: m.id)
    if not attempts:
        return reminder_ids
    oldest = attempts[0]
    try:
        match = find_sent(ctx, oldest.to, oldest.body, oldest.created_at)
    except SmsSendError as exc:
        log.warning("could not look up an interrupted send (message %s): %s; will try again", oldest.id, exc)
        now = ctx.clock.now()
        with UnitOfWork(ctx.database) as uow:
            for reminder_id in reminder_ids:
                reminder = held(uow.db, reminder_id, ctx.worker)
                if reminder is not None:
                    release(reminder, now, due_at=now + LOOKUP_RETRY)
            uow.commit()
        return []
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
        sent = []
        if match is not None:
            for reminder_id in reminder_ids:
                reminder = held(db, reminder_id, ctx.worker)
                if reminder is not None and oldest in found.get(reminder_id, []):
                    record_sent(reminder, match.sid, now)
                    # An interrupted attempt was the one that went out; this claim sent nothing.
                    reminder.attempts = max(1, reminder.attempts - 1)
                    reminder.message_id = oldest.id
                    sent.append(reminder_id)
        uow.commit()
    if sent:
        counts.add("sent", len(sent))
        log.info("message %s: interrupted send found at the provider; not sent again", oldest.id)
    elif match is None:
        log.info("message %s: interrupted send not found at the provider; its texts go again", oldest.id)
    return [i for i in reminder_ids if i not in sent]


def reconcile(ctx: SendContext, limit: int = 100) -> Counts:
    """Settle texts left `unknown` (a timeout, a 5xx) by looking them up at the provider.

    Found: the text was sent, so it is recorded as sent and never sent again. Not found once
    RECONCILE_AFTER_SECONDS have passed: back to pending if it can still be useful, else expired.
    """
    counts = Counts()
    now = ctx.clock.now()
    with UnitOfWork(ctx.database) as uow:
        doubtful = unknown_sends(uow.db, now - ctx.settings.reconcile_after, limit)
    looked_up: dict[int, ProviderMessage | None] = {}  # one lookup per message, however many texts
    for send in doubtful:
        try:
            if send.message_id not in looked_up:
                looked_up[send.message_id] = find_sent(ctx, send.to, send.body, send.attempted_at)
            match = looked_up[send.message_id]
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
            # attempt: that one gets its own lookup after its own wait. (A message carrying
            # several texts is settled with the first of them; the rest follow it.)
            if reminder.status != ReminderStatus.UNKNOWN or reminder.message_id != message.id:
                continue
            if message.status not in (MessageStatus.UNKNOWN, MessageStatus.NOT_SENT):
                record_sent(reminder, message.provider_sid, now)
                counts.add("sent")
                uow.commit()
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
