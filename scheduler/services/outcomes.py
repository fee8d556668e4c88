"""Applying what the provider said: a verdict on one text, and what it means for its patient.

`scheduler.domain.outcomes` decides; this module writes the decision down, in the caller's
transaction, with the same audit entry whether the news came with a send, in a delivery report or
from reconciliation, and whether a patient's STOP or the provider's 21610 brought it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from scheduler.domain.outcomes import PatientEffect, Verdict
from scheduler.domain.states import Reason, ReminderStatus
from scheduler.services.audit import PROVIDER, audit
from scheduler.services.events import EventType, record_event
from scheduler.services.planning import Planner
from scheduler.store.models import Patient, Reminder
from scheduler.store.outbox import release

log = logging.getLogger("scheduler.outcomes")
_GIVEN_UP = (ReminderStatus.FAILED, ReminderStatus.EXPIRED)  # a message.failed event for the EHR


def apply_message_verdict(
    db: DbSession,
    planner: Planner,
    carried: list[Reminder],
    patient: Patient,
    verdict: Verdict,
    code: int | None,
    now: datetime,
) -> None:
    """Give every text one message carried the same verdict; a message given up on is an event."""
    for reminder in carried:
        apply_verdict(db, planner, reminder, patient, verdict, code, now)
    message_id = carried[0].message_id if carried else None
    if verdict.status in _GIVEN_UP and message_id is not None:
        record_event(db, planner.settings, EventType.MESSAGE_FAILED, patient, now, message_id=message_id)


def apply_verdict(
    db: DbSession,
    planner: Planner,
    reminder: Reminder,
    patient: Patient,
    verdict: Verdict,
    code: int | None,
    now: datetime,
) -> None:
    """Give `reminder` its verdict (ending any claim on it) and carry out its effect on `patient`."""
    release(
        reminder,
        now,
        status=verdict.status,
        reason=verdict.reason,
        due_at=verdict.retry_at,
        count_attempt=verdict.counts_attempt,
    )
    reminder.error_code = code
    details: dict[str, object] = {"code": code}
    if verdict.effect is PatientEffect.OPT_OUT:
        opt_out(db, planner, patient, now, PROVIDER, details)
    elif verdict.effect is PatientEffect.FLAG_NUMBER:
        flag_number(db, planner, patient, now, details)
    if verdict.reason is Reason.PROVIDER_CONFIG:
        log.critical("the provider refused reminder %s for an account reason (code %s)", reminder.id, code)


def opt_out(
    db: DbSession,
    planner: Planner,
    patient: Patient,
    now: datetime,
    actor: str,
    details: dict[str, object] | None = None,
) -> bool:
    """Stop texting `patient`: every pending text is cancelled. False when they already were."""
    if patient.opted_out_at is not None:
        return False
    patient.opted_out_at = now
    patient.updated_at = now
    planner.replan(db, patient, now, Reason.OPTED_OUT)
    audit(db, now, actor, "opt-out", patient.id, details=details)
    record_event(db, planner.settings, EventType.PATIENT_OPTED_OUT, patient, now)
    return True


def flag_number(
    db: DbSession, planner: Planner, patient: Patient, now: datetime, details: dict[str, object]
) -> bool:
    """Mark the patient's number as unable to take texts, for staff; pending texts are cancelled."""
    if patient.phone_invalid_at is not None:
        return False
    patient.phone_invalid_at = now
    patient.updated_at = now
    planner.replan(db, patient, now, Reason.PHONE_INVALID)
    audit(db, now, PROVIDER, "phone-invalid", patient.id, details=details)
    record_event(db, planner.settings, EventType.PATIENT_PHONE_INVALID, patient, now)
    return True
