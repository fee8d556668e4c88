"""Replies from patients: STOP and START, HELP, C to confirm, R to ask for a change, and the rest."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.domain.phones import readable
from scheduler.domain.replies import read_reply
from scheduler.domain.states import UPCOMING, AppointmentStatus, PatientStatus, Reason, ReplyIntent
from scheduler.domain.templates import TextContext, render
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.services.audit import PATIENT_SMS, audit
from scheduler.services.outcomes import opt_out
from scheduler.services.planning import replan
from scheduler.store.models import Appointment, Patient, Reply
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.replies")

# Replies that need nothing more from staff once the service has acted on them.
_SETTLED = (ReplyIntent.STOP, ReplyIntent.START, ReplyIntent.HELP, ReplyIntent.CONFIRM)


class Replies:
    def __init__(self, settings: Settings, database: sessionmaker[DbSession], clock: Clock) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self._phone = readable(settings.clinic_phone)

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
            if patient is None:
                # Kept for staff (a patient writing from a new phone, say), never answered.
                intent = read_reply(body, opted_out=False, opt_out_type=opt_out_type)
                db.add(Reply(patient_id=None, from_number=from_number, body=body, provider_sid=provider_sid,
                             intent=intent, received_at=now))  # fmt: skip
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
                    intent=intent,
                    received_at=now,
                    auto_reply=answer,
                    handled_at=now if intent in _SETTLED else None,
                )
            )
            uow.commit()
        log.info("reply from patient %s read as %s", patient.id, intent.value)
        return answer

    def _act(self, db: DbSession, patient: Patient, intent: ReplyIntent, now: datetime) -> str | None:
        ctx = TextContext(self.settings.clinic_name, self._phone)
        if intent is ReplyIntent.STOP:
            # Twilio answers STOP itself and blocks further texts; we stop planning them.
            opt_out(db, self.settings, patient, now, PATIENT_SMS)
            return None
        if intent is ReplyIntent.START:
            if patient.opted_out_at is not None:
                patient.opted_out_at = None
                patient.updated_at = now
                replan(db, patient, self.settings, now, Reason.OPTED_IN)
                audit(db, now, PATIENT_SMS, "opt-in", patient.id)
            return None
        if intent is ReplyIntent.HELP:
            return None if self.settings.twilio_advanced_opt_out else render("help", ctx)
        if intent in (ReplyIntent.CONFIRM, ReplyIntent.CHANGE):
            session = next_session(patient, now)
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
                    replan(db, patient, self.settings, now, Reason.CONFIRMED)
                    audit(db, now, PATIENT_SMS, "confirm", patient.id, session.id)
                return render("confirmed", TextContext(ctx.clinic, ctx.phone, start))
            session.change_requested_at, session.updated_at = now, now
            audit(db, now, PATIENT_SMS, "change-request", patient.id, session.id)
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
                Reply.auto_reply.is_not(None),
                Reply.received_at >= midnight,
            )
        )
        return bool(answered)


def next_session(patient: Patient, now: datetime) -> Appointment | None:
    upcoming = [a for a in patient.appointments if a.status in UPCOMING and a.starts_at > now]
    return min(upcoming, key=lambda a: a.starts_at, default=None)
