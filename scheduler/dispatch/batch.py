"""One batch of claimed texts: gate and record the attempts, send with no transaction open, record.

1. In one transaction: lock the texts this worker holds, judge each by the send-time gates, lay
   out each patient's texts as messages (`compose`), and write an attempt row (`submitting`) for
   each message. Texts an earlier, interrupted attempt left in doubt are set aside to be looked
   up first. The texts are read and written with Core statements (`store.held`).
2. With no transaction open for them: send on the thread pool, one patient's messages in order on
   one thread.
3. In one transaction: record each result on the texts the message carried, only where this
   worker still holds them (`record`).

A drain overlaps batches (`Flight`): while one batch's messages are being sent, the main thread
claims and prepares the next (each step committed before any of its texts is sent), and records
the previous one while the next is on the wire. A batch is sent only once the one before it has
been sent in full, so one patient's messages still go out in order, and a refusal (an opt-out, a
bad number) withdraws that patient's messages in the next batch as it does within a batch.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session as DbSession

from scheduler.dispatch.compose import Composer
from scheduler.dispatch.context import Counts, SendContext
from scheduler.dispatch.reconcile import settle_interrupted
from scheduler.dispatch.record import Prepared, Recorder, SendResult
from scheduler.domain.gates import Defer, Expire, SendFacts, Skip, decide
from scheduler.domain.plan import is_current, notice_of, reminder_key
from scheduler.domain.states import Reason, ReminderKind, ReminderStatus
from scheduler.domain.timeutil import zone
from scheduler.errors import Failure, SmsSendError
from scheduler.sms import MAX_VALIDITY_PERIOD_SECONDS, OutgoingSms
from scheduler.store.held import HeldTexts, insert_messages
from scheduler.store.models import Appointment, Patient, Reminder
from scheduler.store.outbox import interrupted_attempts, release
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")


@dataclass
class Flight:
    """A batch on its way: prepared and committed, its sends submitted to the pool."""

    sends: Future[list[SendResult]] | None = None
    in_doubt: list[list[int]] = field(default_factory=list)
    size: int = 0


class BatchPipeline:
    def __init__(self, ctx: SendContext, pool: ThreadPoolExecutor) -> None:
        self.ctx = ctx
        self.pool = pool
        self.composer = Composer(ctx)
        self.recorder = Recorder(ctx)
        self._zones: dict[str, ZoneInfo] = {}
        # Sends a batch, patient group by patient group, and waits for them: on its own thread,
        # so that the main thread is free to prepare the next batch meanwhile.
        self._feeder = ThreadPoolExecutor(1, thread_name_prefix="feed")

    def run(self, reminder_ids: list[int], counts: Counts) -> None:
        """Gate, send and record one claimed batch."""
        self.finish(self.launch(reminder_ids, counts), counts)

    def launch(self, reminder_ids: list[int], counts: Counts, after: Flight | None = None) -> Flight:
        """Prepare a claimed batch (committed) and start sending it once `after` (the batch before,
        if any) has been sent. Then record `after`, while this batch is on the wire."""
        try:
            prepared, in_doubt = self._prepare(reminder_ids, counts)
        except Exception:
            # The claims' lease runs out and another tick takes the texts again, looking up at the
            # provider any attempt that may have gone out.
            log.exception("a dispatch batch failed unexpectedly")
            prepared, in_doubt = [], []
        earlier = self._sent(after) if after is not None else []
        refused = _refusals(earlier)
        # A patient whose message went back unsent gets none of their later ones before it.
        held = {result.prepared.patient_id for result in earlier if result.stopping}
        if after is not None and (after.in_doubt or any(r.receipt is None for r in earlier)):
            # A refusal may halt sending or change a patient, and texts in doubt go before the
            # next batch as they did: record and settle those first.
            self._record(earlier, counts)
            earlier = []
            self._run_in_doubt_groups(after.in_doubt, counts)
        flight = Flight(in_doubt=in_doubt, size=len(prepared))
        if prepared:
            flight.sends = self._feeder.submit(self._send_batch, prepared, refused, held)
        self._record(earlier, counts)
        return flight

    def finish(self, flight: Flight, counts: Counts) -> None:
        """Wait for a batch's sends and record them."""
        self._record(self._sent(flight), counts)
        self._run_in_doubt_groups(flight.in_doubt, counts)

    def close(self) -> None:
        self._feeder.shutdown(wait=True)

    def _sent(self, flight: Flight) -> list[SendResult]:
        if flight.sends is None:
            return []
        try:
            return flight.sends.result()
        except Exception:
            log.exception("a dispatch batch failed unexpectedly")
            return []

    def _record(self, results: list[SendResult], counts: Counts) -> None:
        try:
            self.recorder.record(results, counts)
        except Exception:
            log.exception("a dispatch batch failed unexpectedly")

    def _send_batch(
        self, prepared: list[Prepared], refused: dict[int, Reason], held: set[int]
    ) -> list[SendResult]:
        # One patient's messages go out one after another, in order: the welcome first, and
        # a refusal (an opt-out, a bad number) is seen before their next one is tried.
        by_patient: dict[int, list[Prepared]] = {}
        for item in prepared:
            by_patient.setdefault(item.patient_id, []).append(item)
        groups = [
            (group, refused.get(patient_id), patient_id in held) for patient_id, group in by_patient.items()
        ]
        # One loop a thread, each taking the next patient's group until none is left: a task (and
        # a wake-up of this thread) per thread, not per patient.
        done: list[list[SendResult]] = [[] for _ in groups]
        taken = iter(range(len(groups)))
        lock = threading.Lock()

        def loop() -> None:
            while True:
                with lock:
                    index = next(taken, None)
                if index is None:
                    return
                done[index] = self._send_group(*groups[index])

        loops = [self.pool.submit(loop) for _ in range(min(self.ctx.options.threads, len(groups)))]
        # Every loop has finished before this returns or raises: nothing of this batch is still
        # being sent when the next one goes.
        wait(loops)
        for future in loops:
            future.result()
        sent = [result for group in done for result in group]
        returned = sum(1 for result in sent if result.stopping)
        if returned and not self.ctx.holding_back(self.ctx.clock.now()):
            log.warning(
                "messages given back unsent for the next claim, as half a claim's lease went by "
                "before they could go (a slow provider?): %s",
                returned,
            )
        return sent

    def _run_in_doubt_groups(self, groups: list[list[int]], counts: Counts) -> None:
        for group in groups:
            self._run_in_doubt(group, counts)

    def _run_in_doubt(self, reminder_ids: list[int], counts: Counts) -> None:
        """Texts an interrupted attempt left in doubt: settle that first, then go on with them."""
        try:
            remaining = settle_interrupted(self.ctx, reminder_ids, counts)
            if remaining:
                prepared, _ = self._prepare(remaining, counts)
                self.recorder.record([self._send_one(p) for p in prepared], counts)
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
            held = HeldTexts(db, ctx.worker)
            rows = held.load(reminder_ids)
            appointments = held.appointments(r.appointment_id for r in rows.values())
            # A text never carried by a message has no attempt to be in doubt about (`message_id`
            # is set with the attempt row, in its transaction, and never cleared).
            doubtful = interrupted_attempts(db, [i for i, r in rows.items() if r.message_id is not None])
            sendable: dict[int, tuple[Patient, list[Reminder]]] = {}
            in_doubt: dict[int, list[int]] = {}
            for reminder_id in reminder_ids:
                if reminder_id not in rows:
                    continue  # the claim was lost meanwhile
                reminder = rows[reminder_id]
                patient = held.patients[reminder.patient_id]
                if stopping:
                    release(reminder, now)
                    counts.add("returned")
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
                    held, patient, reminders, appointments, now, counts, self._gate
                )
            ]
            # The new messages' ids go into their status callback URLs.
            ids = insert_messages(db, [item.message for item in outgoing], ctx.worker, now)
            lease = ctx.settings.claim_lease
            prepared = []
            for item, message_id in zip(outgoing, ids, strict=True):
                held.carry(item.reminders, message_id)
                deadlines = [r.deadline for r in item.reminders if r.deadline is not None]
                leases = [r.lease_until for r in item.reminders if r.lease_until is not None]
                prepared.append(
                    Prepared(
                        message_id,
                        item.message.patient_id,
                        [r.id for r in item.reminders],
                        OutgoingSms(
                            to=item.message.to,
                            body=item.message.body,
                            status_callback=self._callback_url(message_id),
                            validity_period_seconds=_validity(min(deadlines, default=None), now),
                        ),
                        min(leases, default=now + lease) - lease / 2,
                    )
                )
            held.write_back(now)
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
                tz=self._zone(patient.timezone),
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

    def _zone(self, name: str) -> ZoneInfo:
        """A patient's zone, checked once per name for the worker's life (names come from rows)."""
        tz = self._zones.get(name)
        if tz is None:
            tz = self._zones[name] = zone(name)
        return tz

    def _callback_url(self, message_id: int) -> str | None:
        base = self.ctx.settings.public_base_url
        return f"{base}/twilio/status?message_id={message_id}" if base else None

    # -- 2. send -------------------------------------------------------------------------------

    def _send_group(self, group: list[Prepared], refused: Reason | None, held: bool) -> list[SendResult]:
        results: list[SendResult] = []
        for prepared in group:
            if refused is not None:
                results.append(SendResult(prepared, withdrawn=refused))
                continue
            # Once one message goes back unsent, the patient's later ones wait behind it.
            result = SendResult(prepared, stopping=True) if held else self._send_one(prepared)
            held = result.stopping
            failure = result.error.failure if result.error else None
            if failure is Failure.OPTED_OUT:
                refused = Reason.OPTED_OUT
            elif failure is Failure.INVALID_NUMBER:
                refused = Reason.PHONE_INVALID
            results.append(result)
        return results

    def _send_one(self, prepared: Prepared) -> SendResult:
        ctx = self.ctx
        now = ctx.clock.now()
        if ctx.holding_back(now) or now >= prepared.send_by:
            # Not sent: the texts go back to wait for the next claim (a provider so slow that a
            # batch outlasts half its lease is sent from in smaller batches, as it is measured).
            return SendResult(prepared, stopping=True)
        ctx.limiter.wait()
        if ctx.clock.now() >= prepared.send_by:  # the rate limit held it up that long
            return SendResult(prepared, stopping=True)
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


def _refusals(results: list[SendResult]) -> dict[int, Reason]:
    """The patients whose number a send was refused for, and why: their next messages are withdrawn."""
    refused: dict[int, Reason] = {}
    for result in results:
        if result.withdrawn is not None:
            refused[result.prepared.patient_id] = result.withdrawn
        failure = result.error.failure if result.error else None
        if failure is Failure.OPTED_OUT:
            refused[result.prepared.patient_id] = Reason.OPTED_OUT
        elif failure is Failure.INVALID_NUMBER:
            refused[result.prepared.patient_id] = Reason.PHONE_INVALID
    return refused


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
