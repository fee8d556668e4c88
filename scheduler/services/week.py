"""The week ahead, day by day: every session with whether the patient confirmed it and where its
texts stand; and the sessions that are over with no outcome recorded.

Days are the clinic's (`CLINIC_TIMEZONE`), times each patient's own. A large clinic has hundreds of
sessions a day: a day shows its first `DAY_LIMIT` with the count of the rest, and `day()` pages
through them all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import contains_eager

from scheduler.domain.plan import is_current
from scheduler.domain.states import UPCOMING, AppointmentStatus, PatientStatus, ReminderKind, ReminderStatus
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.services.base import Service
from scheduler.services.records import Paging, of_patient_in_care
from scheduler.services.timeline import session_label
from scheduler.store.models import Appointment, Patient, Reminder
from scheduler.store.partial import UPCOMING_SESSION
from scheduler.store.uow import UnitOfWork

DAY_LIMIT = 40
OUTCOME_LIMIT = 200
# A session this long past its start is over: staff can say whether the patient came.
OVER_AFTER = timedelta(hours=2)
# The texts a session's row sums up, in the order they go out.
_SHOWN_KINDS = (ReminderKind.CONFIRM, ReminderKind.PREP, ReminderKind.DAY_OF, ReminderKind.NOTICE)


@dataclass(frozen=True)
class WeekSession:
    appointment_id: int
    patient_id: int
    patient_name: str
    when: datetime  # in the patient's zone
    label: str
    status: AppointmentStatus
    confirmed: bool
    change_requested: bool
    needs_outcome: bool  # over, with neither attended nor missed recorded
    texts: list[tuple[ReminderKind, ReminderStatus]]  # the session's current texts


@dataclass(frozen=True)
class Day:
    day: date  # the clinic's
    sessions: list[WeekSession]
    total: int
    confirmed: int
    needs_outcome: int

    @property
    def more(self) -> int:
        return self.total - len(self.sessions)


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    days: list[Day]

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.start + timedelta(days=7)


class WeekView(Service):
    def week(self, anchor: date | None = None) -> Week:
        """The clinic's Monday-to-Sunday week that holds `anchor` (this week for None)."""
        now = self.clock.now()
        clinic_zone = zone(self.settings.clinic_timezone)
        start = anchor or to_local(now, clinic_zone).date()
        start -= timedelta(days=start.weekday())
        days = [start + timedelta(days=n) for n in range(7)]
        with UnitOfWork(self.database) as uow:
            counts = self._counts(uow.db, days, now)
            return Week(
                start,
                [self._day(uow.db, d, c, now, Paging(DAY_LIMIT)) for d, c in zip(days, counts, strict=True)],
            )

    def day(self, day: date, paging: Paging) -> Day:
        """One of the clinic's days, a page of its sessions at a time."""
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            return self._day(uow.db, day, self._counts(uow.db, [day], now)[0], now, paging)

    def sessions_without_outcome(self) -> list[WeekSession]:
        with UnitOfWork(self.database) as uow:
            return without_outcome(uow.db, self.clock.now())

    def _midnight(self, day: date) -> datetime:
        return to_utc(datetime.combine(day, datetime.min.time()), zone(self.settings.clinic_timezone))

    def _counts(self, db: DbSession, days: list[date], now: datetime) -> list[tuple[int, int, int]]:
        """Each day's sessions, confirmed ones and ones over without an outcome, in one statement
        that reads only those days' sessions."""
        bounds = [self._midnight(d) for d in days] + [self._midnight(days[-1] + timedelta(days=1))]
        which = case(*((Appointment.starts_at < end, n) for n, end in enumerate(bounds[1:])), else_=None)
        found = db.execute(
            select(
                which,
                func.count(),
                func.coalesce(func.sum(case((Appointment.confirmed_at.is_not(None), 1), else_=0)), 0),
                func.coalesce(func.sum(case((_no_outcome(now), 1), else_=0)), 0),
            )
            .where(
                Appointment.starts_at >= bounds[0],
                Appointment.starts_at < bounds[-1],
                Appointment.status != AppointmentStatus.CANCELLED,
                of_patient_in_care(Appointment.patient_id),
            )
            .group_by(which)
        )
        counts = {int(n): (int(total), int(confirmed), int(over)) for n, total, confirmed, over in found}
        return [counts.get(n, (0, 0, 0)) for n in range(len(days))]

    def _day(
        self, db: DbSession, day: date, counts: tuple[int, int, int], now: datetime, paging: Paging
    ) -> Day:
        begins, ends = self._midnight(day), self._midnight(day + timedelta(days=1))
        within = and_(Appointment.starts_at >= begins, Appointment.starts_at < ends)
        rows = list(
            db.scalars(
                _sessions(within)
                .order_by(Appointment.starts_at, Appointment.id)
                .limit(paging.limit)
                .offset(paging.offset)
            )
        )
        return Day(day, _entries(db, rows, now), *counts)


def without_outcome(db: DbSession, now: datetime) -> list[WeekSession]:
    """Sessions that are over with no outcome recorded, latest first (patients in care)."""
    query = _sessions(_no_outcome(now)).order_by(Appointment.starts_at.desc(), Appointment.id)
    return _entries(db, list(db.scalars(query.limit(OUTCOME_LIMIT))), now)


def _shown() -> ColumnElement[bool]:
    """Sessions a week shows: not cancelled, of patients still in care."""
    return and_(Appointment.status != AppointmentStatus.CANCELLED, Patient.status != PatientStatus.DISCHARGED)


def _no_outcome(now: datetime) -> ColumnElement[bool]:
    return and_(UPCOMING_SESSION, Appointment.starts_at <= now - OVER_AFTER)


def _sessions(condition: ColumnElement[bool]) -> Select[Appointment]:
    return (
        select(Appointment)
        .join(Patient)
        .options(contains_eager(Appointment.patient))
        .where(condition, _shown())
    )


def _entries(db: DbSession, rows: list[Appointment], now: datetime) -> list[WeekSession]:
    texts: dict[int, list[tuple[ReminderKind, ReminderStatus]]] = defaultdict(list)
    revisions = {a.id: a.revision for a in rows}
    if rows:
        found = db.execute(
            select(Reminder.appointment_id, Reminder.plan_key, Reminder.kind, Reminder.status)
            .where(Reminder.appointment_id.in_(revisions), Reminder.kind.in_(_SHOWN_KINDS))
            .order_by(Reminder.due_at, Reminder.id)
        )
        for appointment_id, key, kind, status in found:
            if appointment_id is not None and is_current(key, appointment_id, revisions[appointment_id]):
                texts[appointment_id].append((kind, status))
    return [
        WeekSession(
            appointment_id=a.id,
            patient_id=a.patient.id,
            patient_name=a.patient.name,
            when=a.starts_at.astimezone(zone(a.patient.timezone)),
            label=session_label(a.kind, a.number),
            status=a.status,
            confirmed=a.confirmed_at is not None,
            change_requested=a.change_requested_at is not None,
            needs_outcome=a.status in UPCOMING and a.starts_at <= now - OVER_AFTER,
            texts=texts[a.id],
        )
        for a in rows
    ]
