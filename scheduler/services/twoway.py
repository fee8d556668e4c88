"""Two-way texting: delivery reports from the provider and replies from patients."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.phones import readable
from scheduler.domain.replies import Intent, read_reply
from scheduler.domain.templates import TextContext, render
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.services.planning import replan
from scheduler.sms import Failure, classify_delivery_error
from scheduler.store.models import Appointment, AuditEntry, Message, Patient, Reminder, Reply
from scheduler.store.status import advance_message
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.twoway")

# A text that failed on the way to the handset (phone off, no signal) is tried again a little
# later, this many times at most, and only while it can still be useful.
DELIVERY_RETRIES = 2
DELIVERY_RETRY_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class DeliveryReport:
    status: str  # Twilio's MessageStatus
    message_id: int | None = None  # ours, from the callback URL
    provider_sid: str | None = None
    error_code: int | None = None


class TwoWay:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self._phone = readable(settings.clinic_phone)

    # -- delivery reports ----------------------------------------------------------------------

    def delivery(self, report: DeliveryReport) -> bool:
        """Apply a status callback; False when it names no message of ours. Idempotent, and a
        report that arrives late never moves a message or its reminder backwards."""
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            message = db.get(Message, report.message_id) if report.message_id is not None else None
            if message is None and report.provider_sid:
                message = db.scalars(
                    select(Message).where(Message.provider_sid == report.provider_sid)
                ).first()
            if message is None:
                return False
            if message.provider_sid is None and report.provider_sid:
                # The create response was lost; the callback tells us the send did happen.
                message.provider_sid = report.provider_sid
            if not advance_message(message, report.status, now):
                uow.commit()
                return True
            if report.error_code is not None:
                message.error_code = report.error_code
            reminder = db.get(Reminder, message.reminder_id) if message.reminder_id else None
            if reminder is not None and _latest_message_id(db, reminder.id) == message.id:
                self._settle(db, reminder, message, report, now)
            uow.commit()
            return True

    def _settle(
        self, db: Session, reminder: Reminder, message: Message, report: DeliveryReport, now: datetime
    ) -> None:
        # A worker still holding the claim records the result itself, reading the message.
        if reminder.status not in ("sent", "unknown", "delivered"):
            return
        status = report.status
        if status in ("sent", "delivered", "read"):
            if reminder.status == "unknown":
                reminder.sent_at = now
                reminder.reason = None
            reminder.status = "delivered" if status in ("delivered", "read") else "sent"
            reminder.provider_sid = message.provider_sid
            reminder.updated_at = now
            return
        if status in ("undelivered", "failed"):
            undelivered(db, self.settings, reminder, report.error_code, now)

    # -- replies -------------------------------------------------------------------------------

    def inbound(
        self, from_number: str, body: str, provider_sid: str | None, opt_out_type: str | None = None
    ) -> str | None:
        """Handle a patient's text; returns the answer to send back, or None for no answer."""
        now = self.clock.now()
        with UnitOfWork(self.sessions) as uow:
            db = uow.session
            if provider_sid:
                seen = db.scalars(select(Reply).where(Reply.provider_sid == provider_sid)).first()
                if seen is not None:
                    return seen.auto_reply  # Twilio retried the webhook: same answer, no new effect
            patient = db.scalars(
                select(Patient).where(Patient.phone == from_number, Patient.status != "discharged")
            ).first()
            if patient is None:
                # Kept for staff (a patient writing from a new phone, say), never answered.
                db.add(
                    Reply(
                        patient_id=None,
                        from_number=from_number,
                        body=body,
                        provider_sid=provider_sid,
                        intent=read_reply(body, opted_out=False, opt_out_type=opt_out_type).value,
                        received_at=now,
                    )
                )
                uow.commit()
                log.info("inbound text from a number that belongs to no patient in care; kept, not answered")
                return None
            intent = read_reply(body, opted_out=patient.opted_out_at is not None, opt_out_type=opt_out_type)
            answer = self._act(db, patient, intent, now)
            db.add(
                Reply(
                    patient_id=patient.id,
                    from_number=from_number,
                    body=body,
                    provider_sid=provider_sid,
                    intent=intent.value,
                    received_at=now,
                    auto_reply=answer,
                    handled_at=now
                    if intent in (Intent.STOP, Intent.START, Intent.HELP, Intent.CONFIRM)
                    else None,
                )
            )
            uow.commit()
        log.info("reply from patient %s read as %s", patient.id, intent.value)
        return answer

    def _act(self, db: Session, patient: Patient, intent: Intent, now: datetime) -> str | None:
        ctx = TextContext(self.settings.clinic_name, self._phone)
        if intent is Intent.STOP:
            # Twilio answers STOP itself and blocks further texts; we stop planning them.
            if patient.opted_out_at is None:
                patient.opted_out_at = now
                patient.updated_at = now
                replan(db, patient, self.settings, now, "opted-out")
                _audit(db, now, "opt-out", patient)
            return None
        if intent is Intent.START:
            if patient.opted_out_at is not None:
                patient.opted_out_at = None
                patient.updated_at = now
                replan(db, patient, self.settings, now, "opted-in")
                _audit(db, now, "opt-in", patient)
            return None
        if intent is Intent.HELP:
            return None if self.settings.twilio_advanced_opt_out else render("help", ctx)
        if intent in (Intent.CONFIRM, Intent.CHANGE):
            session = _next_session(patient, now)
            if session is None:
                return render("nothing-to-confirm", ctx)
            start = to_local(session.starts_at, zone(patient.timezone))
            if intent is Intent.CONFIRM:
                if session.status == "scheduled":
                    session.status, session.confirmed_at, session.updated_at = "confirmed", now, now
                    replan(db, patient, self.settings, now, "confirmed")
                    _audit(db, now, "confirm", patient, session)
                return render("confirmed", TextContext(ctx.clinic, ctx.phone, start))
            session.change_requested_at, session.updated_at = now, now
            _audit(db, now, "change-request", patient, session)
            return render("change-requested", ctx)
        if patient.opted_out_at is not None or self._answered_other_today(db, patient, now):
            return None  # an opted-out patient gets nothing from us until they send START
        return render("unrecognised", ctx)

    def _answered_other_today(self, db: Session, patient: Patient, now: datetime) -> bool:
        tz = zone(patient.timezone)
        midnight = to_utc(datetime.combine(to_local(now, tz).date(), datetime.min.time()), tz)
        answered = db.scalar(
            select(func.count())
            .select_from(Reply)
            .where(
                Reply.patient_id == patient.id,
                Reply.intent == Intent.OTHER.value,
                Reply.auto_reply.is_not(None),
                Reply.received_at >= midnight,
            )
        )
        return bool(answered)


def undelivered(db: Session, settings: Settings, reminder: Reminder, code: int | None, now: datetime) -> None:
    """A sent text did not reach the handset: retry, flag the number, opt out or hold for review,
    as the error code says."""
    reminder.error_code = code
    reminder.updated_at = now
    patient = db.get(Patient, reminder.patient_id)
    assert patient is not None
    failure = classify_delivery_error(code)
    if failure is Failure.TRANSIENT:
        tries = db.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.reminder_id == reminder.id, Message.status.in_(("undelivered", "failed")))
        )
        retry_at = now + DELIVERY_RETRY_AFTER
        if (tries or 0) <= DELIVERY_RETRIES and (reminder.deadline is None or retry_at < reminder.deadline):
            reminder.status, reminder.reason, reminder.due_at = "pending", "delivery-retry", retry_at
            return
        reminder.status, reminder.reason = "failed", "undelivered"
    elif failure is Failure.EXPIRED:
        reminder.status, reminder.reason = "expired", "provider-expired"
    elif failure is Failure.INVALID_NUMBER:
        reminder.status, reminder.reason = "failed", "phone-invalid"
        patient.phone_invalid_at = patient.phone_invalid_at or now
        replan(db, patient, settings, now, "phone-invalid")
    elif failure is Failure.OPTED_OUT:
        reminder.status, reminder.reason = "failed", "opted-out"
        patient.opted_out_at = patient.opted_out_at or now
        replan(db, patient, settings, now, "opted-out")
    elif failure is Failure.CONFIG:
        reminder.status, reminder.reason = "failed", "provider-config"
        log.critical("the provider refused reminder %s for an account reason (code %s)", reminder.id, code)
    else:
        # Carrier filtering (30007) and codes we do not know: a person looks at it.
        reminder.status, reminder.reason = "failed", "needs-review"
    log.warning("reminder %s not delivered (code %s): %s", reminder.id, code, reminder.reason)


def _next_session(patient: Patient, now: datetime) -> Appointment | None:
    upcoming = [
        a for a in patient.appointments if a.status in ("scheduled", "confirmed") and a.starts_at > now
    ]
    return min(upcoming, key=lambda a: a.starts_at, default=None)


def _latest_message_id(db: Session, reminder_id: int) -> int | None:
    return db.scalar(select(func.max(Message.id)).where(Message.reminder_id == reminder_id))


def _audit(
    db: Session, now: datetime, action: str, patient: Patient, appointment: Appointment | None = None
) -> None:
    db.add(
        AuditEntry(
            at=now,
            actor="patient-sms",
            action=action,
            patient_id=patient.id,
            appointment_id=appointment.id if appointment else None,
            details={},
        )
    )
