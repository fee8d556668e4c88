"""One batch of claimed texts: gate and record the attempts, send with no transaction open, record.

1. In one transaction: lock the texts this worker holds, judge each by the send-time gates, and
   write an attempt row (`submitting`) for each that goes out. Texts an earlier, interrupted
   attempt left in doubt are set aside to be looked up first.
2. With no transaction open: send on the thread pool, one patient's texts in order on one thread.
3. In one transaction: record each result, only where this worker still holds the claim (the
   attempt rows are updated regardless: they happened).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from scheduler.dispatch.context import Counts, SendContext
from scheduler.dispatch.reconcile import record_sent, settle_interrupted
from scheduler.domain.gates import Defer, Expire, SendFacts, Skip, decide
from scheduler.domain.outcomes import Stage, judge_failure
from scheduler.domain.phones import readable
from scheduler.domain.plan import is_current
from scheduler.domain.states import MessageStatus, Reason, ReminderStatus
from scheduler.domain.templates import TextContext, render, template_name
from scheduler.domain.timeutil import to_local, zone
from scheduler.errors import Failure, SmsSendError
from scheduler.services.delivery import undelivered
from scheduler.services.outcomes import apply_verdict
from scheduler.sms import OutgoingSms, SendReceipt, mask_phone
from scheduler.store.models import Appointment, Message, Patient, Reminder
from scheduler.store.outbox import held_batch, held_with_patients, interrupted_attempts, release
from scheduler.store.status import advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")

# Twilio's queue keeps a message at most this long (its ValidityPeriod limit).
MAX_VALIDITY = timedelta(hours=10)
# Why a prepared text was not sent after all.
STOPPING = "stopping"


@dataclass(frozen=True)
class Prepared:
    reminder_id: int
    patient_id: int
    message_id: int
    sms: OutgoingSms


@dataclass(frozen=True)
class Result:
    """What became of one prepared text: a receipt, an error, or withdrawn unsent (and why)."""

    prepared: Prepared
    receipt: SendReceipt | None = None
    error: SmsSendError | None = None
    withdrawn: str | None = None


class BatchPipeline:
    def __init__(self, ctx: SendContext, pool: ThreadPoolExecutor) -> None:
        self.ctx = ctx
        self.pool = pool
        self._clinic_phone = readable(ctx.settings.clinic_phone)

    def run(self, reminder_ids: list[int], counts: Counts) -> None:
        """Gate, send and record one claimed batch."""
        try:
            prepared, in_doubt = self._prepare(reminder_ids, counts)
            # One patient's texts go out one after another, in order: the welcome first, and a
            # refusal (an opt-out, a bad number) is seen before their next text is tried.
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
        for reminder_id in in_doubt:
            self._run_in_doubt(reminder_id, counts)

    def _run_in_doubt(self, reminder_id: int, counts: Counts) -> None:
        """One text that an interrupted attempt left in doubt: settle that first, then go on."""
        try:
            if settle_interrupted(self.ctx, reminder_id, counts):
                prepared, _ = self._prepare([reminder_id], counts)
                self._record([self._send_one(p) for p in prepared], counts)
        except Exception:
            log.exception("dispatch of reminder %s failed unexpectedly", reminder_id)

    # -- 1. gate and record the attempts -------------------------------------------------------

    def _prepare(self, reminder_ids: list[int], counts: Counts) -> tuple[list[Prepared], list[int]]:
        """Gate claimed texts and record the attempts about to be made, in one transaction.

        Returns the texts to send now, and those an interrupted earlier attempt left in doubt.
        """
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
            attempts: list[tuple[Reminder, Patient, Message]] = []
            in_doubt: list[int] = []
            for reminder_id in reminder_ids:
                if reminder_id not in rows:
                    continue  # the claim was lost meanwhile
                reminder, patient = rows[reminder_id]
                if stopping:
                    release(reminder, now)
                elif reminder_id in doubtful:
                    in_doubt.append(reminder_id)
                else:
                    appointment = appointments.get(reminder.appointment_id or 0)
                    message = self._gate(db, reminder, patient, appointment, now, counts)
                    if message is not None:
                        attempts.append((reminder, patient, message))
            db.flush()  # the new messages' ids go into their status callback URLs
            prepared = [
                Prepared(
                    reminder.id,
                    patient.id,
                    message.id,
                    OutgoingSms(
                        to=patient.phone,
                        body=message.body,
                        status_callback=self._callback_url(message.id),
                        validity_period_seconds=_validity(reminder.deadline, now),
                    ),
                )
                for reminder, patient, message in attempts
            ]
            uow.commit()
        return prepared, in_doubt

    def _gate(
        self,
        db: DbSession,
        reminder: Reminder,
        patient: Patient,
        appointment: Appointment | None,
        now: datetime,
        counts: Counts,
    ) -> Message | None:
        """Decide on one claimed text; for a text to send, the attempt's message row (unflushed)."""
        decision = decide(
            SendFacts(
                kind=reminder.kind,
                # A claim taken before a reschedule belongs to the session's old time.
                current=appointment is None
                or is_current(reminder.plan_key, appointment.id, appointment.revision),
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
            return None
        if isinstance(decision, Expire):
            release(reminder, now, status=ReminderStatus.EXPIRED, reason=decision.reason)
            counts.add("expired")
            log.warning("reminder %s expired (%s)", reminder.id, decision.reason)
            return None
        if isinstance(decision, Defer):
            release(reminder, now, due_at=decision.until)
            counts.add("deferred")
            return None
        message = Message(
            reminder_id=reminder.id,
            patient_id=patient.id,
            to=patient.phone,
            body=self._render(reminder, patient, appointment),
            status=MessageStatus.SUBMITTING,
            worker=self.ctx.worker,
            created_at=now,
            updated_at=now,
        )
        db.add(message)
        return message

    def _render(self, reminder: Reminder, patient: Patient, appointment: Appointment | None) -> str:
        protocol = self.ctx.protocols.get(patient.protocol)
        family = protocol.family if protocol else "iv"
        start = to_local(appointment.starts_at, zone(patient.timezone)) if appointment else None
        text = TextContext(self.ctx.settings.clinic_name, self._clinic_phone, start)
        return render(template_name(reminder.kind, family), text)

    def _callback_url(self, message_id: int) -> str | None:
        base = self.ctx.settings.public_base_url
        return f"{base}/twilio/status?message_id={message_id}" if base else None

    # -- 2. send -------------------------------------------------------------------------------

    def _send_group(self, group: list[Prepared]) -> list[Result]:
        results: list[Result] = []
        refused: str | None = None
        for prepared in group:
            if refused is not None:
                results.append(Result(prepared, withdrawn=refused))
                continue
            result = self._send_one(prepared)
            failure = result.error.failure if result.error else None
            if failure is Failure.OPTED_OUT:
                refused = Reason.OPTED_OUT
            elif failure is Failure.INVALID_NUMBER:
                refused = Reason.PHONE_INVALID
            results.append(result)
        return results

    def _send_one(self, prepared: Prepared) -> Result:
        ctx = self.ctx
        if ctx.holding_back(ctx.clock.now()):
            return Result(prepared, withdrawn=STOPPING)
        ctx.limiter.wait()
        try:
            return Result(prepared, receipt=ctx.sender.send(prepared.sms))
        except SmsSendError as exc:
            return Result(prepared, error=exc)
        except Exception as exc:  # a bug in a sender: the outcome is not known
            log.error("sender raised %s for reminder %s", type(exc).__name__, prepared.reminder_id)
            return Result(prepared, error=SmsSendError(Failure.UNKNOWN))

    # -- 3. record -----------------------------------------------------------------------------

    def _record(self, results: list[Result], counts: Counts) -> None:
        """Record what the provider said, in one transaction, only where this worker still
        holds the claim (the message rows are updated regardless: they happened)."""
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
            reminders = held_batch(db, [r.prepared.reminder_id for r in results], self.ctx.worker)
            for result in results:
                message = messages[result.prepared.message_id]
                reminder = reminders.get(result.prepared.reminder_id)
                outcome = self._record_one(db, result, message, reminder, now)
                if outcome:
                    counts.add(outcome)
            uow.commit()

    def _record_one(
        self, db: DbSession, result: Result, message: Message, reminder: Reminder | None, now: datetime
    ) -> str | None:
        prepared = result.prepared
        if result.receipt is not None:
            # A status callback may have overtaken this response: never move a status back.
            advance_message(message, result.receipt.status, now)
            message.provider_sid = result.receipt.provider_sid
            if reminder is None:
                log.warning("reminder %s was sent after its claim was lost", prepared.reminder_id)
                return "sent"
            record_sent(reminder, result.receipt.provider_sid, now)
            # A delivery report may have arrived before this response: it has the last word.
            if message.status in (MessageStatus.DELIVERED, MessageStatus.READ):
                reminder.status = ReminderStatus.DELIVERED
            elif message.status in (MessageStatus.UNDELIVERED, MessageStatus.FAILED):
                undelivered(db, self.ctx.settings, reminder, message.error_code, now)
            log.debug("sent reminder %s to %s", prepared.reminder_id, mask_phone(prepared.sms.to))
            return "sent"
        if result.withdrawn is not None:
            message.status, message.updated_at = MessageStatus.NOT_SENT, now
            if reminder is None:
                return None
            if result.withdrawn == STOPPING:
                release(reminder, now)
                return None
            release(reminder, now, status=ReminderStatus.SKIPPED, reason=result.withdrawn)
            return "skipped"
        error = result.error
        assert error is not None
        message.status = MessageStatus.UNKNOWN if error.failure is Failure.UNKNOWN else MessageStatus.FAILED
        message.error_code = error.code
        message.updated_at = now
        log.warning("reminder %s to %s: %s", prepared.reminder_id, mask_phone(prepared.sms.to), error)
        if reminder is None:
            return None
        return self._failed(db, reminder, error, now)

    def _failed(self, db: DbSession, reminder: Reminder, error: SmsSendError, now: datetime) -> str:
        ctx = self.ctx
        verdict = judge_failure(
            error.failure,
            stage=Stage.SEND,
            attempts=reminder.attempts,
            delivery_failures=0,
            deadline=reminder.deadline,
            now=now,
            policy=ctx.options.retry,
            rng=ctx.rng,
        )
        patient = db.get(Patient, reminder.patient_id)
        assert patient is not None
        apply_verdict(db, ctx.settings, reminder, patient, verdict, error.code, now)
        if verdict.halt:
            ctx.halt(now)
            log.critical(
                "the SMS provider refused our credentials or account settings (code %s); "
                "sending is halted for %s. Check the TWILIO_* settings.",
                error.code,
                ctx.options.config_pause,
            )
            return "retry"
        return {
            ReminderStatus.PENDING: "retry",
            ReminderStatus.UNKNOWN: "unknown",
            ReminderStatus.EXPIRED: "expired",
        }.get(verdict.status, "failed")


def _validity(deadline: datetime | None, now: datetime) -> int:
    """Seconds the provider may queue the text: until its deadline, within Twilio's limits."""
    if deadline is None:
        return int(MAX_VALIDITY.total_seconds())
    seconds = int((deadline - now).total_seconds())
    return max(60, min(seconds, int(MAX_VALIDITY.total_seconds())))
