"""Step 3 of a batch: record what the provider said, in one transaction, only on the texts this
worker still holds (the attempt rows are updated regardless: they happened).

Most results are plain: the provider took the message, nothing overtook the response, and the
worker still holds every text it carried. Those are written with two statements for the whole
batch (the messages, then the texts). Anything else (a refusal, a withdrawal, a delivery report
that arrived before the response, a claim lost meanwhile) goes through the ORM as before: the
outcome rules, opt-outs and re-planning live there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session as DbSession

from scheduler.dispatch.context import Counts, SendContext
from scheduler.domain.outcomes import Stage, judge_failure
from scheduler.domain.states import MessageStatus, Reason, ReminderStatus
from scheduler.errors import Failure, SmsSendError
from scheduler.services.delivery import settle
from scheduler.services.outcomes import apply_message_verdict
from scheduler.services.planning import Planner
from scheduler.sms import OutgoingSms, SendReceipt, mask_phone
from scheduler.store.held import MESSAGES, REMINDERS, update_sent
from scheduler.store.models import Message, Patient, Reminder
from scheduler.store.outbox import (
    SENDING,
    among_bound,
    bound_ids,
    held_batch,
    is_postgresql,
    record_sent,
    release,
)
from scheduler.store.status import RANK, advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")

_COUNTED_AS = {
    ReminderStatus.PENDING: "retry",
    ReminderStatus.UNKNOWN: "unknown",
    ReminderStatus.EXPIRED: "expired",
}
# Receipt statuses that say only "taken": recording one touches nothing but the message and the
# texts it carried (a `sent` also settles them as sent, which recording does anyway).
_TAKEN = frozenset(s for s, rank in RANK.items() if 1 <= rank <= RANK[MessageStatus.SENT])


@dataclass(frozen=True, slots=True)
class Prepared:
    message_id: int
    patient_id: int
    reminder_ids: list[int]  # the texts it carries, the first leading
    sms: OutgoingSms
    # No send starts from this instant: half the claims' lease is left for the send in flight and
    # its record, so that no other worker can take the texts while they are on the wire.
    send_by: datetime


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one prepared message: a receipt, an error, or withdrawn unsent: because the
    worker is stopping (the texts wait for the next tick), or why they will not go."""

    prepared: Prepared
    receipt: SendReceipt | None = None
    error: SmsSendError | None = None
    stopping: bool = False
    withdrawn: Reason | None = None


def _look_statement(postgresql: bool) -> Select[Any]:
    """The texts among `:ids` still being sent, with the message each points at, both locked."""
    return (
        select(REMINDERS.c.id, REMINDERS.c.claimed_by, MESSAGES.c.id.label("mid"), MESSAGES.c.status)
        .join_from(REMINDERS, MESSAGES, MESSAGES.c.id == REMINDERS.c.message_id)
        .where(among_bound(postgresql, REMINDERS.c.id, "ids"), SENDING)
        .with_for_update()
    )


_LOOK = {postgresql: _look_statement(postgresql) for postgresql in (False, True)}


class Recorder:
    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx
        self.planner = Planner(ctx.settings, ctx.protocols)

    def record(self, results: list[SendResult], counts: Counts) -> None:
        if not results:
            return
        now = self.ctx.clock.now()
        with UnitOfWork(self.ctx.database) as uow:
            db = uow.db
            plain, other = self._split(db, results)
            if plain:
                self._record_plain(db, plain, now, counts, debugging=log.isEnabledFor(logging.DEBUG))
            if other:
                self._record_others(db, other, now, counts)
            uow.commit()

    def _split(self, db: DbSession, results: list[SendResult]) -> tuple[list[SendResult], list[SendResult]]:
        """The plain results (see the module's doc) and the others. Locks the messages and the
        texts, so that nothing changes them between this look and the writes."""
        # The texts with the message each points at, both locked: one statement, by primary keys.
        ids = [i for r in results for i in r.prepared.reminder_ids]
        postgresql = is_postgresql(db)
        rows = db.connection().execute(_LOOK[postgresql], {"ids": bound_ids(postgresql, ids)}).all()
        statuses = {mid: status for _id, _by, mid, status in rows}
        held = {rid: mid for rid, claimed_by, mid, _status in rows if claimed_by == self.ctx.worker}
        plain: list[SendResult] = []
        other: list[SendResult] = []
        for result in results:
            receipt = result.receipt
            is_plain = (
                receipt is not None
                and receipt.status in _TAKEN
                and statuses.get(result.prepared.message_id) == MessageStatus.SUBMITTING
                and all(held.get(i) == result.prepared.message_id for i in result.prepared.reminder_ids)
            )
            (plain if is_plain else other).append(result)
        return plain, other

    def _record_plain(
        self, db: DbSession, results: list[SendResult], now: datetime, counts: Counts, *, debugging: bool
    ) -> None:
        messages: list[tuple[int, str, str | None]] = []
        texts: list[tuple[int, str | None]] = []
        for result in results:
            receipt = result.receipt
            assert receipt is not None
            sid = receipt.provider_sid
            messages.append((result.prepared.message_id, receipt.status, sid))
            texts.extend((reminder_id, sid) for reminder_id in result.prepared.reminder_ids)
            if debugging:
                log.debug(
                    "sent message %s to %s", result.prepared.message_id, mask_phone(result.prepared.sms.to)
                )
        update_sent(db, messages, texts, self.ctx.worker, now)
        counts.add("sent", len(texts))

    def _record_others(self, db: DbSession, results: list[SendResult], now: datetime, counts: Counts) -> None:
        messages = {
            m.id: m
            for m in db.scalars(
                select(Message).where(Message.id.in_([r.prepared.message_id for r in results]))
            )
        }
        held = held_batch(db, [i for r in results for i in r.prepared.reminder_ids], self.ctx.worker)
        for result in results:
            carried = [held[i] for i in result.prepared.reminder_ids if i in held]
            self._record_one(db, result, messages[result.prepared.message_id], carried, now, counts)

    def _record_one(
        self,
        db: DbSession,
        result: SendResult,
        message: Message,
        carried: list[Reminder],
        now: datetime,
        counts: Counts,
    ) -> None:
        prepared = result.prepared
        if result.receipt is not None:
            # A status callback may have overtaken this response: never move a status back.
            advance_message(message, result.receipt.status, now)
            message.provider_sid = result.receipt.provider_sid
            if len(carried) < len(prepared.reminder_ids):
                log.warning("message %s was sent after some of its claims were lost", message.id)
            for reminder in carried:
                record_sent(reminder, result.receipt.provider_sid, now)
            # A delivery report may have arrived before this response: it has the last word.
            settle(db, self.planner, message, now)
            counts.add("sent", len(prepared.reminder_ids))
            log.debug("sent message %s to %s", message.id, mask_phone(prepared.sms.to))
            return
        if result.stopping or result.withdrawn is not None:
            message.status, message.updated_at = MessageStatus.NOT_SENT, now
            for reminder in carried:
                if result.withdrawn is None:
                    release(reminder, now)
                    counts.add("returned")
                else:
                    release(reminder, now, status=ReminderStatus.SKIPPED, reason=result.withdrawn)
                    counts.add("skipped")
            return
        error = result.error
        assert error is not None
        message.status = MessageStatus.UNKNOWN if error.failure is Failure.UNKNOWN else MessageStatus.FAILED
        message.error_code = error.code
        message.updated_at = now
        log.warning("message %s to %s: %s", message.id, mask_phone(prepared.sms.to), error)
        if carried:
            outcome = self._failed(db, carried, error, now)
            counts.add(outcome, len(carried))

    def _failed(self, db: DbSession, carried: list[Reminder], error: SmsSendError, now: datetime) -> str:
        """Judge a refused message once, and give every text it carried that verdict."""
        ctx, lead = self.ctx, carried[0]
        deadlines = [r.deadline for r in carried if r.deadline is not None]
        verdict = judge_failure(
            error.failure,
            stage=Stage.SEND,
            attempts=lead.attempts,
            delivery_failures=0,
            deadline=min(deadlines, default=None),
            now=now,
            policy=ctx.options.retry,
            rng=ctx.rng,
        )
        patient = db.get(Patient, lead.patient_id)
        assert patient is not None
        apply_message_verdict(db, self.planner, carried, patient, verdict, error.code, now)
        if verdict.halt:
            ctx.halt(now)
            log.critical(
                "the SMS provider refused our credentials or account settings (code %s); "
                "sending is halted for %s. Check the TWILIO_* settings.",
                error.code,
                ctx.options.config_pause,
            )
            return "retry"
        return _COUNTED_AS.get(verdict.status, "failed")
