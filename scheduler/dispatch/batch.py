"""One batch of claimed texts: gate and record the attempts, send with no transaction open, record.

1. In one transaction: lock the texts this worker holds, judge each by the send-time gates, lay
   out each patient's texts as messages (`compose`), and write an attempt row (`submitting`) for
   each message. Texts an earlier, interrupted attempt left in doubt are set aside to be looked
   up first.
2. With no transaction open: send on the thread pool, one patient's messages in order on one
   thread.
3. In one transaction: record each result on the texts the message carried, only where this
   worker still holds them (the attempt rows are updated regardless: they happened).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from scheduler.dispatch.compose import Composer
from scheduler.dispatch.context import Counts, SendContext
from scheduler.dispatch.reconcile import settle_interrupted
from scheduler.domain.gates import Defer, Expire, SendFacts, Skip, decide
from scheduler.domain.outcomes import Stage, judge_failure
from scheduler.domain.plan import is_current, notice_of, reminder_key
from scheduler.domain.states import MessageStatus, Reason, ReminderKind, ReminderStatus
from scheduler.domain.timeutil import zone
from scheduler.errors import Failure, SmsSendError
from scheduler.services.delivery import settle
from scheduler.services.outcomes import apply_message_verdict
from scheduler.services.planning import Planner
from scheduler.sms import MAX_VALIDITY_PERIOD_SECONDS, OutgoingSms, SendReceipt, mask_phone
from scheduler.store.models import Appointment, Message, Patient, Reminder
from scheduler.store.outbox import held_batch, held_with_patients, interrupted_attempts, record_sent, release
from scheduler.store.status import advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")

_COUNTED_AS = {
    ReminderStatus.PENDING: "retry",
    ReminderStatus.UNKNOWN: "unknown",
    ReminderStatus.EXPIRED: "expired",
}


@dataclass(frozen=True)
class Prepared:
    message_id: int
    patient_id: int
    reminder_ids: list[int]  # the texts it carries, the first leading
    sms: OutgoingSms


@dataclass(frozen=True)
class SendResult:
    """What became of one prepared message: a receipt, an error, or withdrawn unsent: because the
    worker is stopping (the texts wait for the next tick), or why they will not go."""

    prepared: Prepared
    receipt: SendReceipt | None = None
    error: SmsSendError | None = None
    stopping: bool = False
    withdrawn: Reason | None = None


class BatchPipeline:
    def __init__(self, ctx: SendContext, pool: ThreadPoolExecutor) -> None:
        self.ctx = ctx
        self.pool = pool
        self.planner = Planner(ctx.settings, ctx.protocols)
        self.composer = Composer(ctx)

    def run(self, reminder_ids: list[int], counts: Counts) -> None:
        """Gate, send and record one claimed batch."""
        try:
            prepared, in_doubt = self._prepare(reminder_ids, counts)
            # One patient's messages go out one after another, in order: the welcome first, and
            # a refusal (an opt-out, a bad number) is seen before their next one is tried.
            by_patient: dict[int, list[Prepared]] = {}
            for item in prepared:
                by_patient.setdefault(item.patient_id, []).append(item)
            results = [r for group in self.pool.map(self._send_group, by_patient.values()) for r in group]
            self._record(results, counts)
        except Exception:
            # The claims' lease runs out and another tick takes the texts again, looking up at the
            # provider any attempt that may have gone out.
            log.exception("a dispatch batch failed unexpectedly")
            return
        for group in in_doubt:
            self._run_in_doubt(group, counts)

    def _run_in_doubt(self, reminder_ids: list[int], counts: Counts) -> None:
        """Texts an interrupted attempt left in doubt: settle that first, then go on with them."""
        try:
            remaining = settle_interrupted(self.ctx, reminder_ids, counts)
            if remaining:
                prepared, _ = self._prepare(remaining, counts)
                self._record([self._send_one(p) for p in prepared], counts)
        except Exception:
            log.exception("dispatch of reminders %s failed unexpectedly", reminder_ids)

    # -- 1. gate and record the attempts -------------------------------------------------------

    def _prepare(self, reminder_ids: list[int], counts: Counts) -> tuple[list[Prepared], list[list[int]]]:
        """Gate claimed texts, lay them out as messages and record the attempts about to be made,
        in one transaction. Returns the messages to send now, and the texts an interrupted
        earlier attempt left in doubt (grouped by that attempt)."""
        ctx = self.ctx
        now = ctx.clock.now()
        stopping = ctx.holding_back(now)
        with UnitOfWork(ctx.database) as uow:
            db = uow.db
            rows = held_with_patients(db, reminder_ids, ctx.worker)
            appointment_ids = {r.appointment_id for r, _ in rows.values() if r.appointment_id is not None}
            appointments = {
                a.id: a for a in db.scalars(select(Appointment).where(Appointment.id.in_(appointment_ids)))
            }
            doubtful = interrupted_attempts(db, rows)
            sendable: dict[int, tuple[Patient, list[Reminder]]] = {}
            in_doubt: dict[int, list[int]] = {}
            for reminder_id in reminder_ids:
                if reminder_id not in rows:
                    continue  # the claim was lost meanwhile
                reminder, patient = rows[reminder_id]
                if stopping:
                    release(reminder, now)
                elif reminder_id in doubtful:
                    in_doubt.setdefault(doubtful[reminder_id][0].id, []).append(reminder_id)
                elif self._gate(
                    db, reminder, patient, appointments.get(reminder.appointment_id or 0), now, counts
                ):
                    sendable.setdefault(patient.id, (patient, []))[1].append(reminder)
            outgoing = [
                message
                for patient, reminders in sendable.values()
                for message in self.composer.outgoing(
                    db, patient, reminders, appointments, now, counts, self._gate
                )
            ]
            for item in outgoing:
                db.add(item.message)
            db.flush()  # the new messages' ids go into their status callback URLs
            prepared = []
            for item in outgoing:
                for reminder in item.reminders:
                    reminder.message_id = item.message.id
                deadlines = [r.deadline for r in item.reminders if r.deadline is not None]
                prepared.append(
                    Prepared(
                        item.message.id,
                        item.message.patient_id or 0,
                        [r.id for r in item.reminders],
                        OutgoingSms(
                            to=item.message.to,
                            body=item.message.body,
                            status_callback=self._callback_url(item.message.id),
                            validity_period_seconds=_validity(min(deadlines, default=None), now),
                        ),
                    )
                )
            uow.commit()
        return prepared, list(in_doubt.values())

    def _gate(
        self,
        db: DbSession,
        reminder: Reminder,
        patient: Patient,
        appointment: Appointment | None,
        now: datetime,
        counts: Counts,
    ) -> bool:
        """Decide on one claimed text: True when it may go now, else release it with the reason."""
        decision = decide(
            SendFacts(
                kind=reminder.kind,
                current=_current(reminder, appointment),
                deadline=reminder.deadline,
                patient_status=patient.status,
                opted_out=patient.opted_out_at is not None,
                phone_invalid=patient.phone_invalid_at is not None,
                appointment_status=appointment.status if appointment else None,
                tz=zone(patient.timezone),
            ),
            now,
            self.ctx.settings.send_window,
        )
        if isinstance(decision, Skip):
            release(reminder, now, status=ReminderStatus.SKIPPED, reason=decision.reason)
            counts.add("skipped")
            return False
        if isinstance(decision, Expire):
            release(reminder, now, status=ReminderStatus.EXPIRED, reason=decision.reason)
            counts.add("expired")
            log.warning("reminder %s expired (%s)", reminder.id, decision.reason)
            return False
        if isinstance(decision, Defer):
            release(reminder, now, due_at=decision.until)
            counts.add("deferred")
            return False
        return True

    def _callback_url(self, message_id: int) -> str | None:
        base = self.ctx.settings.public_base_url
        return f"{base}/twilio/status?message_id={message_id}" if base else None

    # -- 2. send -------------------------------------------------------------------------------

    def _send_group(self, group: list[Prepared]) -> list[SendResult]:
        results: list[SendResult] = []
        refused: Reason | None = None
        for prepared in group:
            if refused is not None:
                results.append(SendResult(prepared, withdrawn=refused))
                continue
            result = self._send_one(prepared)
            failure = result.error.failure if result.error else None
            if failure is Failure.OPTED_OUT:
                refused = Reason.OPTED_OUT
            elif failure is Failure.INVALID_NUMBER:
                refused = Reason.PHONE_INVALID
            results.append(result)
        return results

    def _send_one(self, prepared: Prepared) -> SendResult:
        ctx = self.ctx
        if ctx.holding_back(ctx.clock.now()):
            return SendResult(prepared, stopping=True)
        ctx.limiter.wait()
        started = time.monotonic()
        try:
            return SendResult(prepared, receipt=ctx.sender.send(prepared.sms))
        except SmsSendError as exc:
            return SendResult(prepared, error=exc)
        except Exception as exc:  # a bug in a sender: the outcome is not known
            log.error("sender raised %s for message %s", type(exc).__name__, prepared.message_id)
            return SendResult(prepared, error=SmsSendError(Failure.UNKNOWN))
        finally:
            # A refusal or a timeout takes the provider's time too: it counts.
            ctx.latency.observe(time.monotonic() - started)

    # -- 3. record -----------------------------------------------------------------------------

    def _record(self, results: list[SendResult], counts: Counts) -> None:
        """Record what the provider said, in one transaction, only on the texts this worker still
        holds (the message rows are updated regardless: they happened)."""
        if not results:
            return
        now = self.ctx.clock.now()
        with UnitOfWork(self.ctx.database) as uow:
            db = uow.db
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
            uow.commit()

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


def _current(reminder: Reminder, appointment: Appointment | None) -> bool:
    """Whether a text still belongs to its session as it is now: a claim taken before a reschedule
    belongs to the old time, and a notice only speaks of the latest change."""
    if appointment is None:
        return True
    notice = notice_of(reminder.plan_key)
    if reminder.kind == ReminderKind.NOTICE:
        wanted = reminder_key(appointment.id, appointment.revision, ReminderKind.NOTICE, appointment.notice)
        return notice is not None and reminder.plan_key == wanted
    return is_current(reminder.plan_key, appointment.id, appointment.revision)


def _validity(deadline: datetime | None, now: datetime) -> int:
    """Seconds the provider may queue the text: until its deadline, within Twilio's limits."""
    if deadline is None:
        return MAX_VALIDITY_PERIOD_SECONDS
    seconds = int((deadline - now).total_seconds())
    return max(60, min(seconds, MAX_VALIDITY_PERIOD_SECONDS))
