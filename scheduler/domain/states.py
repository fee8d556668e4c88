"""The words the service stores: statuses, kinds and reasons, each an enum, each group named once.

Every value here is also what the database holds and what the CLI and the API print, so a value
never changes once released; new ones may be added.
"""

from __future__ import annotations

from enum import StrEnum


class PatientStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"


class Language(StrEnum):
    """The language a patient's texts are written in."""

    EN = "en"
    ES = "es"


class HoldReason(StrEnum):
    """Why automatic planning waits for staff."""

    MISSED_SESSION = "missed-session"


class Attention(StrEnum):
    """Why staff need to look at a patient (`attention` in the patient's JSON)."""

    PHONE_INVALID = "phone-invalid"
    MISSED_SESSION = "missed-session"


class SessionKind(StrEnum):
    INDUCTION = "induction"
    TOUCH_UP = "touch-up"


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"
    MISSED = "missed"
    CANCELLED = "cancelled"


# Sessions still ahead of the patient, and those whose texts belong in the plan (an attended
# session keeps its check-in).
UPCOMING = frozenset({AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED})
PLANNED = UPCOMING | {AppointmentStatus.ATTENDED}


class ReminderKind(StrEnum):
    WELCOME = "welcome"
    CONFIRM = "confirm"
    PREP = "prep"
    DAY_OF = "day-of"
    CHECK_IN = "check-in"
    NOTICE = "notice"  # a session moved, added or cancelled by staff


class NoticeKind(StrEnum):
    """What a change notice tells the patient."""

    MOVED = "moved"
    ADDED = "added"
    CANCELLED = "cancelled"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    UNKNOWN = "unknown"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


# Texts a person should look at.
TROUBLED = frozenset({ReminderStatus.FAILED, ReminderStatus.EXPIRED, ReminderStatus.UNKNOWN})


class Reason(StrEnum):
    """Why a text was skipped, cancelled, expired or failed (`reason` next to its status)."""

    # planning
    DAILY_LIMIT = "daily-limit"
    SUPERSEDED = "superseded"  # a newer text for the same session covers it
    BOOKED_LATE = "booked-late"
    TOO_LATE = "too-late"
    SESSION_BETWEEN = "session-between"
    ALREADY_CONFIRMED = "already-confirmed"
    OUTSIDE_WINDOW = "outside-window"
    # changes that re-plan a patient
    RESCHEDULED = "rescheduled"
    APPOINTMENT_CANCELLED = "appointment-cancelled"
    SESSION_ATTENDED = "session-attended"
    SESSION_MISSED = "session-missed"
    PAUSED = "paused"
    RESUMED = "resumed"
    DISCHARGED = "discharged"
    REPLANNED = "replanned"
    INTERVAL_CHANGED = "interval-changed"
    PROTOCOL_CHANGED = "protocol-changed"
    CONFIRMED = "confirmed"
    OPTED_OUT = "opted-out"
    OPTED_IN = "opted-in"
    PHONE_INVALID = "phone-invalid"
    # send-time gates
    PATIENT_PAUSED = "patient-paused"
    PATIENT_DISCHARGED = "patient-discharged"
    SESSION_CANCELLED = "session-cancelled"
    OUTSIDE_SEND_WINDOW = "outside-send-window"
    # the provider
    OUTCOME_UNKNOWN = "outcome-unknown"
    TOO_MANY_ATTEMPTS = "too-many-attempts"
    NEEDS_REVIEW = "needs-review"
    DELIVERY_RETRY = "delivery-retry"
    UNDELIVERED = "undelivered"
    PROVIDER_EXPIRED = "provider-expired"
    PROVIDER_CONFIG = "provider-config"


# A text cancelled for one of these reasons comes back when the reason goes away.
REVIVABLE = frozenset({Reason.PAUSED, Reason.OPTED_OUT, Reason.SESSION_MISSED, Reason.PHONE_INVALID})


class AppointmentReason(StrEnum):
    """Why a session was cancelled (`status_reason`)."""

    CANCELLED_BY_STAFF = "cancelled-by-staff"
    DISCHARGED = "discharged"
    PROTOCOL_CHANGED = "protocol-changed"  # the course ahead was replaced by another protocol's
    REPLACED = "replaced"  # a touch-up booked when another was cancelled, which staff restored


class MessageStatus(StrEnum):
    """One SMS: our own states before the provider answered, then the provider's."""

    SUBMITTING = "submitting"  # the request is in flight; left so by a dead worker, it is in doubt
    UNKNOWN = "unknown"
    NOT_SENT = "not-sent"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    READ = "read"


class ReplyIntent(StrEnum):
    """What a patient's reply was read as."""

    STOP = "stop"
    START = "start"
    HELP = "help"
    CONFIRM = "confirm"
    CHANGE = "change"
    OTHER = "other"
