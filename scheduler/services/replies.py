"""Replies from patients: STOP and START, HELP, C to confirm, R to ask for a change, urgent
replies, and the rest."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.protocols import Protocol
from scheduler.domain.replies import answered_by_carrier, read_reply
from scheduler.domain.states import (
    UPCOMING,
    AppointmentStatus,
    Language,
    PatientStatus,
    Reason,
    ReminderKind,
    ReminderStatus,
    ReplyIntent,
)
from scheduler.domain.templates import TextContext, render
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.domain.urgent import urgent_language
from scheduler.services.alerts import raise_alert
from scheduler.services.audit import PATIENT_SMS, audit
from scheduler.services.events import EventType, record_event
from scheduler.services.outcomes import opt_out
from scheduler.services.planning import Planner
from scheduler.store.models import Appointment, Patient, Reminder, Reply
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.replies")

# Replies that need nothing more from staff once the service has acted on them.
_SETTLED = (ReplyIntent.STOP, ReplyIntent.START, ReplyIntent.HELP, ReplyIntent.CONFIRM)
# Texts that name a session: a C or R answers the latest of them.
_ABOUT_A_SESSION = (ReminderKind.CONFIRM, ReminderKind.PREP, ReminderKind.DAY_OF, ReminderKind.NOTICE)
_SENT = (ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN)


class Replies:
    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        database: sessionmaker[DbSession],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.planner = Planner(settings, protocols)
        self.database = database
        self.clock = clock
        self.voice = settings.voice

    def receive(
        self, from_number: str, body: str, provider_sid: str | None, opt_out_type: str | None = None
    ) -> str | None:
        """Handle a patient's text; returns the answer to send back, or None for no answer."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            db = uow.db
            if provider_sid:
                seen = db.scalars(select(Reply).where(Reply.provider_sid == provider_sid)).first()
                if seen is not None:
                    return seen.auto_reply  # Twilio retried the webhook: same answer, no new effect
            patient = db.scalars(
                select(Patient).where(
                    Patient.phone == from_number, Patient.status != PatientStatus.DISCHARGED
                )
            ).first()
            alarm = urgent_language(body)
            if patient is None:
                # Kept for staff (a patient writing from a new phone, say). Answered only when it
                # reads as a safety concern, with the emergency number and crisis line, in the
                # language it was written in.
                intent = read_reply(body, opted_out=False, opt_out_type=opt_out_type)
                urgent = alarm is not None and intent is ReplyIntent.OTHER
                answer: str | None = None
                if urgent:
                    answer = render("urgent", TextContext(self.voice, language=alarm or Language.EN))
                stranger = Reply(
                    patient_id=None,
                    from_number=from_number,
                    body=body,
                    provider_sid=provider_sid,
                    intent=intent,
                    urgent=urgent,
                    received_at=now,
                    auto_reply=answer,
                )
                db.add(stranger)
                if urgent:
                    db.flush()
                    raise_alert(db, self.settings, None, stranger, now)
                uow.commit()
                log.info("inbound text from a number that belongs to no patient in care%s",
                         " (urgent)" if urgent else "; kept, not answered")  # fmt: skip
                return answer
            intent = read_reply(body, opted_out=patient.opted_out_at is not None, opt_out_type=opt_out_type)
            urgent = alarm is not None and intent is ReplyIntent.OTHER
            ctx = TextContext(self.voice, language=patient.language)
            if urgent:
                answer = render("urgent", ctx)
            else:
                answer = self._act(
                    db, patient, intent, now, ctx, carrier=answered_by_carrier(body, opt_out_type)
                )
            reply = Reply(
                patient_id=patient.id,
                from_number=from_number,
                body=body,
                provider_sid=provider_sid,
                intent=intent,
                urgent=urgent,
                received_at=now,
                auto_reply=answer,
                handled_at=now if intent in _SETTLED else None,
            )
            db.add(reply)
            if urgent:
                db.flush()
                raise_alert(db, self.settings, patient.id, reply, now)
                record_event(db, self.settings, EventType.REPLY_URGENT, patient, now, reply_id=reply.id)
            uow.commit()
        log.info(
            "reply from patient %s read as %s%s", patient.id, intent.value, " (urgent)" if urgent else ""
        )
        return answer

    def _act(
        self, db: DbSession, patient: Patient, intent: ReplyIntent, now: datetime, ctx: TextContext,
        *, carrier: bool,
    ) -> str | None:  # fmt: skip
        """Carry out a keyword; the answer to send (in the patient's language), or None. Twilio
        answers its own keywords (STOP, START, HELP and the like); the others are ours to answer."""
        if intent is ReplyIntent.STOP:
            # Twilio blocks further texts after its own STOP words; we stop planning them either way.
            was_in = patient.opted_out_at is None
            opt_out(db, self.planner, patient, now, PATIENT_SMS)
            return None if carrier or not was_in else render("opted-out", ctx)
        if intent is ReplyIntent.START:
            if patient.opted_out_at is not None:
                patient.opted_out_at = None
                patient.updated_at = now
                self.planner.replan(db, patient, now, Reason.OPTED_IN)
                audit(db, now, PATIENT_SMS, "opt-in", patient.id)
                record_event(db, self.settings, EventType.PATIENT_OPTED_IN, patient, now)
            return None
        if intent is ReplyIntent.HELP:
            twilio_answers = carrier and self.settings.twilio_advanced_opt_out
            return None if twilio_answers else render("help", ctx)
        if intent in (ReplyIntent.CONFIRM, ReplyIntent.CHANGE):
            session = asked_about(db, patient, now)
            if session is None:
                return render("nothing-to-confirm", ctx)
            start = to_local(session.starts_at, zone(patient.timezone))
            if intent is ReplyIntent.CONFIRM:
                if session.status == AppointmentStatus.SCHEDULED:
                    session.status, session.confirmed_at, session.updated_at = (
                        AppointmentStatus.CONFIRMED,
                        now,
                        now,
                    )
                    self.planner.replan(db, patient, now, Reason.CONFIRMED)
                    audit(db, now, PATIENT_SMS, "confirm", patient.id, session.id)
                    record_event(
                        db, self.settings, EventType.APPOINTMENT_CONFIRMED, patient, now, appointment=session
                    )
                return render("confirmed", ctx.at(start))
            session.change_requested_at, session.updated_at = now, now
            audit(db, now, PATIENT_SMS, "change-request", patient.id, session.id)
            record_event(
                db, self.settings, EventType.APPOINTMENT_CHANGE_REQUESTED, patient, now, appointment=session
            )
            return render("change-requested", ctx)
        if patient.opted_out_at is not None or self._answered_other_today(db, patient, now):
            return None  # an opted-out patient gets nothing from us until they send START
        return render("unrecognised", ctx)

    def _answered_other_today(self, db: DbSession, patient: Patient, now: datetime) -> bool:
        tz = zone(patient.timezone)
        midnight = to_utc(datetime.combine(to_local(now, tz).date(), datetime.min.time()), tz)
        answered = db.scalar(
            select(func.count())
            .select_from(Reply)
            .where(
                Reply.patient_id == patient.id,
                Reply.intent == ReplyIntent.OTHER,
                Reply.urgent.is_(False),
                Reply.auto_reply.is_not(None),
                Reply.received_at >= midnight,
            )
        )
        return bool(answered)


def asked_about(db: DbSession, patient: Patient, now: datetime) -> Appointment | None:
    """The session a C or R answers: the one the latest message about a session still ahead
    asked about (its confirm request, else its preparation text ...), else the next session."""
    upcoming = {a.id: a for a in patient.appointments if a.status in UPCOMING and a.starts_at > now}
    about = (
        Reminder.patient_id == patient.id,
        Reminder.kind.in_(_ABOUT_A_SESSION),
        Reminder.status.in_(_SENT),
        Reminder.appointment_id.in_(upcoming),
    )
    latest = db.scalar(select(func.max(Reminder.message_id)).where(*about))
    if latest is None:
        return min(upcoming.values(), key=lambda a: a.starts_at, default=None)
    carried = [
        (kind, appointment_id)
        for kind, appointment_id in db.execute(
            select(Reminder.kind, Reminder.appointment_id).where(*about, Reminder.message_id == latest)
        )
        if appointment_id is not None
    ]
    _kind, appointment_id = min(
        carried, key=lambda row: (_ABOUT_A_SESSION.index(row[0]), upcoming[row[1]].starts_at)
    )
    return upcoming[appointment_id]
