"""Send-time gates: whether a claimed text goes out now, waits, or ends with a reason.

Plans are made days ahead; these checks run again at the moment of sending, because a patient
may have been paused, a session cancelled or confirmed, or the worker may be running late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.domain.states import (
    PLANNED,
    UPCOMING,
    AppointmentStatus,
    PatientStatus,
    Reason,
    ReminderKind,
)
from scheduler.domain.timeutil import to_local, to_utc
from scheduler.domain.window import SendWindow


@dataclass(frozen=True)
class SendFacts:
    kind: ReminderKind
    current: bool  # False for a text planned for a time the session has since moved from
    deadline: datetime | None
    patient_status: PatientStatus
    opted_out: bool
    phone_invalid: bool
    appointment_status: AppointmentStatus | None  # None for texts not tied to a session (the welcome)
    tz: ZoneInfo


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Skip:
    reason: Reason


@dataclass(frozen=True)
class Expire:
    reason: Reason = Reason.TOO_LATE


@dataclass(frozen=True)
class Defer:
    until: datetime


Decision = Send | Skip | Expire | Defer

# Session states in which a text about the session still makes sense.
_PATIENT_SKIPS = {
    PatientStatus.PAUSED: Reason.PATIENT_PAUSED,
    PatientStatus.DISCHARGED: Reason.PATIENT_DISCHARGED,
}
_SESSION_SKIPS = {
    AppointmentStatus.ATTENDED: Reason.SESSION_ATTENDED,
    AppointmentStatus.MISSED: Reason.SESSION_MISSED,
    AppointmentStatus.CANCELLED: Reason.SESSION_CANCELLED,
}


def decide(facts: SendFacts, now: datetime, window: SendWindow) -> Decision:
    """What to do with a claimed text at `now`."""
    if facts.opted_out:
        return Skip(Reason.OPTED_OUT)
    if facts.phone_invalid:
        return Skip(Reason.PHONE_INVALID)
    if facts.patient_status != PatientStatus.ACTIVE:
        return Skip(_PATIENT_SKIPS[facts.patient_status])
    if not facts.current:
        # A newer change: a text for the session's old time, or a notice of an older change.
        return Skip(Reason.SUPERSEDED if facts.kind == ReminderKind.NOTICE else Reason.RESCHEDULED)
    status = facts.appointment_status
    if status is not None and facts.kind != ReminderKind.NOTICE:
        allowed = PLANNED if facts.kind == ReminderKind.CHECK_IN else UPCOMING
        if status not in allowed:
            return Skip(_SESSION_SKIPS[status])
        if facts.kind == ReminderKind.CONFIRM and status == AppointmentStatus.CONFIRMED:
            return Skip(Reason.ALREADY_CONFIRMED)
    if facts.deadline is not None and now >= facts.deadline:
        return Expire()
    local = to_local(now, facts.tz)
    if not window.contains(local):
        until = to_utc(window.earliest_after(local), facts.tz)
        if facts.deadline is not None and until >= facts.deadline:
            return Expire(Reason.OUTSIDE_SEND_WINDOW)
        return Defer(until)
    return Send()
