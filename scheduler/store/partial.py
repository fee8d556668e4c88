"""Conditions that repeat a partial index's predicate with literals.

SQLite's planner, and a generic plan in PostgreSQL, use a partial index only when the query's
condition is the index's own, written with literals rather than bound parameters (see
`outbox.CLAIMABLE`). A page that lists the few rows a partial index covers uses these.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, literal_column

from scheduler.domain.states import UPCOMING, AppointmentStatus, ReminderStatus
from scheduler.store.models import Appointment, Reminder

# ix_reminders_in_trouble: texts in trouble (failed, expired, unknown), for Today.
TROUBLED_STATUSES = (ReminderStatus.FAILED, ReminderStatus.EXPIRED, ReminderStatus.UNKNOWN)
TROUBLED_TEXT: ColumnElement[bool] = Reminder.status.in_(
    [literal_column(f"'{s.value}'") for s in TROUBLED_STATUSES]
)
# ix_appointments_upcoming: sessions with no outcome yet (scheduled or confirmed); most are ahead.
UPCOMING_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
UPCOMING_SESSION: ColumnElement[bool] = Appointment.status.in_(
    [literal_column(f"'{s.value}'") for s in UPCOMING_STATUSES]
)
assert frozenset(UPCOMING_STATUSES) == UPCOMING
