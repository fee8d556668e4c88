"""The dispatcher: drains due texts in batches on a small thread pool, one worker's share at a time.

For each text: claim (committed), gate and record the attempt (committed), send with no
transaction open, then record the result only if this worker still holds the claim.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.dispatch.claims import claim_due, held, release
from scheduler.domain.gates import Defer, Expire, RetryPolicy, SendFacts, Skip, decide
from scheduler.domain.phones import readable
from scheduler.domain.plan import is_current
from scheduler.domain.protocols import Protocol
from scheduler.domain.templates import TextContext, render, template_name
from scheduler.domain.timeutil import to_local, zone
from scheduler.services.planning import replan
from scheduler.services.twoway import undelivered
from scheduler.sms import (
    Failure,
    OutgoingSms,
    ProviderMessage,
    SendReceipt,
    SmsSender,
    SmsSendError,
    mask_phone,
)
from scheduler.store.models import Appointment, Message, Patient, Reminder
from scheduler.store.status import advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.dispatch")

# A text in flight when its worker died is looked up at the provider before it is sent again;
# messages created this long before our attempt row still count as that attempt.
PROVIDER_CLOCK_SKEW = timedelta(seconds=60)
# A message row's status while its request is in flight; one left so by a dead worker is in doubt.
SUBMITTING = "submitting"
# Twilio's queue keeps a message at most this long (its ValidityPeriod limit).
MAX_VALIDITY = timedelta(hours=10)


@dataclass(frozen=True)
class DispatchOptions:
    # Texts claimed, gated and recorded together: fewer transactions per text. Even if every send
    # in a batch timed out (10 s), batch / threads sends in a row stay inside the lease.
    batch_size: int = 100
    threads: int = 4
    lease: timedelta = timedelta(minutes=5)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # How long a send whose outcome is unknown waits before the reconciler looks it up.
    reconcile_after: timedelta = timedelta(minutes=2)
    # After an authentication or account error, how long sending stays halted.
    config_pause: timedelta = timedelta(minutes=10)


@dataclass
class Counts:
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    expired: int = 0
    skipped: int = 0
    deferred: int = 0
    unknown: int = 0
    # The drain stopped because its time was up, not because nothing more was due.
    backlog: bool = field(default=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def merge(self, other: Counts) -> None:
        for f in fields(self):
            if not f.name.startswith("_") and f.name != "backlog":
                self.add(f.name, getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not f.name.startswith("_") and f.name != "backlog"
        }


class RateLimiter:
    """A token bucket shared by the sender threads: at most `rate` sends a second."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


@dataclass(frozen=True)
class _Prepared:
    reminder_id: int
    patient_id: int
    message_id: int
    sms: OutgoingSms


@dataclass(frozen=True)
class _Result:
    """What became of one prepared text: a receipt, an error, or withdrawn unsent (and why)."""

    prepared: _Prepared
    receipt: SendReceipt | None = None
    error: SmsSendError | None = None
    withdrawn: str | None = None


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        sessions: sessionmaker[Session],
        sender: SmsSender,
        clock: Clock,
        worker: str,
        options: DispatchOptions = DispatchOptions(),
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.protocols = protocols
        self.sessions = sessions
        self.sender = sender
        self.clock = clock
        self.worker = worker
        self.options = options
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(settings.send_rate_per_second)
        self._stopping = threading.Event()
        self._draining = threading.Lock()
        self._halted_until: datetime | None = None
        self._pool = ThreadPoolExecutor(options.threads, thread_name_prefix="send")
        self._clinic_phone = readable(settings.clinic_phone)

    # -- the loop ------------------------------------------------------------------------------

    def drain(self, budget_seconds: float | None = None) -> Counts:
        """Send everything due, batch after batch, until nothing is due, the budget is spent or
        `stop()` is called."""
        counts = Counts()
        started = time.monotonic()
        with self._draining:
            self._drain(counts, started, budget_seconds)
        return counts

    def _drain(self, counts: Counts, started: float, budget_seconds: float | None) -> None:
        while not self._stopping.is_set():
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                counts.backlog = True
                break
            now = self.clock.now()
            if self._halted_until is not None and now < self._halted_until:
                break
            batch = self._claim(now)
            if not batch:
                break
            counts.add("claimed", len(batch))
            self._run_batch([reminder_id for reminder_id, _ in batch], counts)

    def stop(self) -> None:
        """Finish the sends in flight, release claimed texts not yet sent, and stop draining."""
        self._stopping.set()

    def close(self) -> None:
        """Stop, wait for a drain in progress to record its sends, and free the threads."""
        self.stop()
        with self._draining:
            self._pool.shutdown(wait=True)

    def _claim(self, now: datetime) -> list[tuple[int, int]]:
        with UnitOfWork(self.sessions) as uow:
            ids = claim_due(uow.session, self.worker, now, now + self.options.lease, self.options.batch_size)
            uow.commit()
        return ids

    # -- settling sends whose outcome is unknown ---------------------------------------------

    def reconcile(self, limit: int = 100) -> Counts:
        """Settle texts left `unknown` (a timeout, a 5xx) by looking them up at the provider.

        Found: the text was sent, so it is recorded as sent and never sent again. Not found once
        `reconcile_after` has passed: back to pending if it can still be useful, else expired.
        """
        counts = Counts()
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            rows = uow.session.execute(
                select(Reminder.id, Message.id, Message.to, Message.body, Message.created_at)
                .join(Message, Message.reminder_id == Reminder.id)
                .where(
                    # A literal, so the planner can use the partial index on unknown sends.
                    Reminder.status == literal_column("'unknown'"),
                    Reminder.updated_at <= now - self.options.reconcile_after,
                    Message.status == "unknown",
                )
                .order_by(Reminder.updated_at)
                .limit(limit)
            ).all()
        for reminder_id, message_id, to, body, created_at in rows:
            try:
                found = self.sender.recent_messages(to, created_at - PROVIDER_CLOCK_SKEW)
            except SmsSendError as exc:
                log.warning("reconciler could not reach the provider (%s); will try again", exc)
                break
            match = self._find_sent(found, body)
            with UnitOfWork(self.sessions) as uow:
                db = uow.session
                reminder = db.scalars(
                    select(Reminder).where(Reminder.id == reminder_id).with_for_update()
                ).one()
                message = db.get(Message, message_id)
                assert message is not None
                # Another reconciler may have settled it, and a retry left a newer `unknown`
                # attempt: that one gets its own lookup after its own wait.
                if reminder.status != "unknown" or message.status != "unknown":
                    continue
                if match is not None:
                    message.status, message.provider_sid = match.status or "sent", match.sid
                    message.error_code = match.error_code
                    _record_sent(reminder, match.sid, now)
                    counts.add("sent")
                elif reminder.deadline is not None and now >= reminder.deadline:
                    message.status = "not-sent"
                    release(reminder, now, status="expired", reason="too-late", count_attempt=True)
                    counts.add("expired")
                else:
                    message.status = "not-sent"
                    release(reminder, now, due_at=now, count_attempt=True)
                    counts.add("retry")
                message.updated_at = now
                uow.commit()
            log.info("reconciled reminder %s: %s", reminder_id, "found" if match else "not found")
        return counts

    # -- one text ------------------------------------------------------------------------------

    def _run_batch(self, reminder_ids: list[int], counts: Counts) -> None:
        """Gate and record every attempt in one transaction, send on the pool with none open,
        then record every result in one transaction."""
        try:
            prepared, in_doubt = self._prepare(reminder_ids, counts)
            # One patient's texts go out one after another, in order: the welcome first, and a
            # refusal (an opt-out, a bad number) is seen before their next text is tried.
            by_patient: dict[int, list[_Prepared]] = {}
            for item in prepared:
                by_patient.setdefault(item.patient_id, []).append(item)
            results = [r for group in self._pool.map(self._send_group, by_patient.values()) for r in group]
            self._record(results, counts)
        except Exception:
            # The claims' lease runs out and another tick takes the texts again, looking up at the
            # provider any attempt that may have gone out.
            log.exception("a dispatch batch failed unexpectedly")
            return
        for reminder_id in in_doubt:
            self._process(reminder_id, counts)

    def _process(self, reminder_id: int, counts: Counts) -> None:
        """One text that an interrupted attempt left in doubt: settle that first, then go on."""
        try:
            if self._settle_in_doubt(reminder_id, counts):
                prepared, _ = self._prepare([reminder_id], counts)
                self._record([self._send_one(p) for p in prepared], counts)
        except Exception:
            log.exception("dispatch of reminder %s failed unexpectedly", reminder_id)

    def _prepare(self, reminder_ids: list[int], counts: Counts) -> tuple[list[_Prepared], list[int]]:
        """Gate claimed texts and record the attempts about to be made, in one transaction.

        Returns the texts to send now, and those an interrupted earlier attempt left in doubt.
        """
        now = self.clock.now()
        stopping = self._stopping.is_set() or self._halted(now)
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            rows = {
                reminder.id: (reminder, patient)
                for reminder, patient in db.execute(
                    select(Reminder, Patient)
                    .join(Patient, Patient.id == Reminder.patient_id)
                    .where(
                        Reminder.id.in_(reminder_ids),
                        Reminder.status == "sending",
                        Reminder.claimed_by == self.worker,
                    )
                    .with_for_update(of=Reminder)
                ).all()
            }
            appointment_ids = {r.appointment_id for r, _ in rows.values() if r.appointment_id is not None}
            appointments = {
                a.id: a for a in db.scalars(select(Appointment).where(Appointment.id.in_(appointment_ids)))
            }
            doubtful = set(
                db.scalars(
                    select(Message.reminder_id).where(
                        Message.reminder_id.in_(rows), Message.status == SUBMITTING
                    )
                )
            )
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
                _Prepared(
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
        db: Session,
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
            self.settings.send_window,
        )
        if isinstance(decision, Skip):
            release(reminder, now, status="skipped", reason=decision.reason)
            counts.add("skipped")
            return None
        if isinstance(decision, Expire):
            release(reminder, now, status="expired", reason=decision.reason)
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
            status=SUBMITTING,
            worker=self.worker,
            created_at=now,
            updated_at=now,
        )
        db.add(message)
        return message

    def _render(self, reminder: Reminder, patient: Patient, appointment: Appointment | None) -> str:
        protocol = self.protocols.get(patient.protocol)
        family = protocol.family if protocol else "iv"
        start = to_local(appointment.starts_at, zone(patient.timezone)) if appointment else None
        ctx = TextContext(self.settings.clinic_name, self._clinic_phone, start)
        return render(template_name(reminder.kind, family), ctx)

    def _callback_url(self, message_id: int) -> str | None:
        base = self.settings.public_base_url
        return f"{base}/twilio/status?message_id={message_id}" if base else None

    def _settle_in_doubt(self, reminder_id: int, counts: Counts) -> bool:
        """Look interrupted attempts up at the provider before anything else happens to the text.

        Returns True when the text is still to be judged and, perhaps, sent. If an earlier attempt
        did go out, it is recorded as the send; if the provider cannot be asked, the text waits for
        a later tick rather than risk a second copy.
        """
        with UnitOfWork(self.sessions) as uow:
            attempts = list(
                uow.session.scalars(
                    select(Message)
                    .where(Message.reminder_id == reminder_id, Message.status == SUBMITTING)
                    .order_by(Message.id)
                )
            )
        if not attempts:
            return True
        oldest = attempts[0]
        now = self.clock.now()
        try:
            found = self.sender.recent_messages(oldest.to, oldest.created_at - PROVIDER_CLOCK_SKEW)
        except SmsSendError as exc:
            log.warning("could not look up an interrupted send of reminder %s (%s); will try again",
                        reminder_id, exc)  # fmt: skip
            with UnitOfWork(self.sessions) as uow:
                reminder = held(uow.session, reminder_id, self.worker)
                if reminder is not None:
                    release(reminder, now, due_at=now + timedelta(minutes=1))
                uow.commit()
            return False
        match = self._find_sent(found, oldest.body)
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            for earlier in attempts:
                row = db.get(Message, earlier.id)
                assert row is not None
                if match is not None and earlier is oldest:
                    row.status, row.provider_sid = match.status or "sent", match.sid
                else:
                    row.status = "not-sent"
                row.updated_at = now
            reminder = held(db, reminder_id, self.worker)
            if match is not None and reminder is not None:
                _record_sent(reminder, match.sid, now)
                # An interrupted attempt was the one that went out; this claim sent nothing.
                reminder.attempts = max(1, reminder.attempts - 1)
            uow.commit()
        if match is None:
            return True
        counts.add("sent")
        log.info("reminder %s: interrupted send found at the provider; not sent again", reminder_id)
        return False

    def _send_group(self, group: list[_Prepared]) -> list[_Result]:
        results: list[_Result] = []
        refused: str | None = None
        for prepared in group:
            if refused is not None:
                results.append(_Result(prepared, withdrawn=refused))
                continue
            result = self._send_one(prepared)
            failure = result.error.failure if result.error else None
            if failure is Failure.OPTED_OUT:
                refused = "opted-out"
            elif failure is Failure.INVALID_NUMBER:
                refused = "phone-invalid"
            results.append(result)
        return results

    def _send_one(self, prepared: _Prepared) -> _Result:
        if self._stopping.is_set() or self._halted(self.clock.now()):
            return _Result(prepared, withdrawn="stopping")
        self.limiter.wait()
        try:
            return _Result(prepared, receipt=self.sender.send(prepared.sms))
        except SmsSendError as exc:
            return _Result(prepared, error=exc)
        except Exception as exc:  # a bug in a sender: the outcome is not known
            log.error("sender raised %s for reminder %s", type(exc).__name__, prepared.reminder_id)
            return _Result(prepared, error=SmsSendError(Failure.UNKNOWN))

    def _record(self, results: list[_Result], counts: Counts) -> None:
        """Record what the provider said, in one transaction, only where this worker still
        holds the claim (the message rows are updated regardless: they happened)."""
        if not results:
            return
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            messages = {
                m.id: m
                for m in db.scalars(
                    select(Message).where(Message.id.in_([r.prepared.message_id for r in results]))
                )
            }
            reminders = {
                r.id: r
                for r in db.scalars(
                    select(Reminder)
                    .where(
                        Reminder.id.in_([r.prepared.reminder_id for r in results]),
                        Reminder.status == "sending",
                        Reminder.claimed_by == self.worker,
                    )
                    .with_for_update()
                )
            }
            for result in results:
                message = messages[result.prepared.message_id]
                reminder = reminders.get(result.prepared.reminder_id)
                outcome = self._record_one(db, result, message, reminder, now)
                if outcome:
                    counts.add(outcome)
            uow.commit()

    def _record_one(
        self, db: Session, result: _Result, message: Message, reminder: Reminder | None, now: datetime
    ) -> str | None:
        prepared = result.prepared
        if result.receipt is not None:
            # A status callback may have overtaken this response: never move a status back.
            advance_message(message, result.receipt.status, now)
            message.provider_sid = result.receipt.provider_sid
            if reminder is None:
                log.warning("reminder %s was sent after its claim was lost", prepared.reminder_id)
                return "sent"
            _record_sent(reminder, result.receipt.provider_sid, now)
            # A delivery report may have arrived before this response: it has the last word.
            if message.status in ("delivered", "read"):
                reminder.status = "delivered"
            elif message.status in ("undelivered", "failed"):
                undelivered(db, self.settings, reminder, message.error_code, now)
            log.debug("sent reminder %s to %s", prepared.reminder_id, mask_phone(prepared.sms.to))
            return "sent"
        if result.withdrawn is not None:
            message.status, message.updated_at = "not-sent", now
            if reminder is None:
                return None
            if result.withdrawn == "stopping":
                release(reminder, now)
                return None
            release(reminder, now, status="skipped", reason=result.withdrawn)
            return "skipped"
        error = result.error
        assert error is not None
        message.status = "unknown" if error.failure is Failure.UNKNOWN else "failed"
        message.error_code = error.code
        message.updated_at = now
        log.warning("reminder %s to %s: %s", prepared.reminder_id, mask_phone(prepared.sms.to), error)
        if reminder is None:
            return None
        reminder.error_code = error.code
        patient = db.get(Patient, reminder.patient_id)
        assert patient is not None
        return self._apply_failure(db, reminder, patient, error.failure, now)

    def _apply_failure(
        self, db: Session, reminder: Reminder, patient: Patient, failure: Failure, now: datetime
    ) -> str:
        if failure is Failure.RETRY:
            if reminder.attempts >= self.options.retry.max_attempts:
                release(reminder, now, status="failed", reason="too-many-attempts",
                        count_attempt=True)  # fmt: skip
                return "failed"
            delay = self.options.retry.delay(reminder.attempts, self.rng)
            release(reminder, now, due_at=now + delay, count_attempt=True)
            return "retry"
        if failure is Failure.UNKNOWN:
            release(reminder, now, status="unknown", reason="outcome-unknown", count_attempt=True)
            return "unknown"
        if failure is Failure.CONFIG:
            self._halted_until = now + self.options.config_pause
            log.critical(
                "the SMS provider refused our credentials or account settings (code %s); "
                "sending is halted for %s. Check the TWILIO_* settings.",
                reminder.error_code,
                self.options.config_pause,
            )
            release(reminder, now)
            return "retry"
        if failure is Failure.OPTED_OUT:
            release(reminder, now, status="failed", reason="opted-out", count_attempt=True)
            patient.opted_out_at = patient.opted_out_at or now
            patient.updated_at = now
            replan(db, patient, self.settings, now, "opted-out")
            return "failed"
        if failure is Failure.INVALID_NUMBER:
            release(reminder, now, status="failed", reason="phone-invalid", count_attempt=True)
            patient.phone_invalid_at = patient.phone_invalid_at or now
            patient.updated_at = now
            replan(db, patient, self.settings, now, "phone-invalid")
            return "failed"
        release(reminder, now, status="failed", reason="needs-review", count_attempt=True)
        return "failed"

    def _find_sent(self, found: list[ProviderMessage], body: str) -> ProviderMessage | None:
        """The provider's record of our text: same body, from our sender (the list is already
        limited to the patient's number and to messages created since our attempt)."""
        ours = self.settings.twilio_messaging_service_sid, self.settings.twilio_from_number
        for message in found:
            if message.body != body:
                continue
            sender = message.messaging_service_sid, message.from_
            if not any(ours) or any(mine and mine in sender for mine in ours):
                return message
        return None

    def _halted(self, now: datetime) -> bool:
        return self._halted_until is not None and now < self._halted_until


def _record_sent(reminder: Reminder, provider_sid: str | None, now: datetime) -> None:
    reminder.provider_sid = provider_sid
    reminder.sent_at = now
    reminder.error_code = None
    release(reminder, now, status="sent", count_attempt=True)


def _validity(deadline: datetime | None, now: datetime) -> int:
    """Seconds the provider may queue the text: until its deadline, within Twilio's limits."""
    if deadline is None:
        return int(MAX_VALIDITY.total_seconds())
    seconds = int((deadline - now).total_seconds())
    return max(60, min(seconds, int(MAX_VALIDITY.total_seconds())))
