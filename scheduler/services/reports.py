"""How things are going, week by week: sessions attended and missed, the confirmation rate,
opt-outs, and texts that failed or expired.

A week is the clinic's: Monday 00:00 to the next Monday 00:00 in `CLINIC_TIMEZONE` (the same weeks
the Week page shows), so a week across a change to or from summer time is 167 or 169 hours long.
The last week of a report is the one holding `until` (today by default), so far as it has gone.
Each figure falls in the week of one instant:

- attended, missed: sessions by when they started, with that outcome recorded;
- confirmation rate: of the sessions (not cancelled) starting that week whose patient was sent a
  confirm request (a `confirm` text sent or delivered, counted on the session by the database:
  `Appointment.confirm_requests_sent`), the share the patient confirmed;
- opt-outs: patients opting out (a STOP reply, or the carrier's 21610), by when it happened;
- texts failed, expired: texts that ended so, by when they were due.

Every figure is counted by the database (one GROUP BY per figure over the report's instants, on
indexed columns), never by reading rows into Python. The sessions are counted from their tallies
(`store.tallies`): a few rows per quarter hour of the weeks, kept by the database as sessions
change, so the largest figures cost about the same at 100,000 patients as at 1,000. Opt-outs and
troubled texts are few, and counted from their own rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Executable, SQLColumnExpression, and_, case, func, select, text
from sqlalchemy.orm import Session as DbSession

from scheduler.domain.states import AppointmentStatus, ReminderStatus
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.errors import InvalidInput
from scheduler.services.base import Service
from scheduler.services.results import WeekFigures, WeeklyReport
from scheduler.store.models import AuditEntry, Reminder, SessionTally
from scheduler.store.tallies import slot_of
from scheduler.store.uow import reading

WEEKS = 12
MAX_WEEKS = 104
CSV_COLUMNS = (
    "week_start",
    "attended",
    "missed",
    "confirm_requests",
    "confirmed",
    "confirmation_rate",
    "opt_outs",
    "texts_failed",
    "texts_expired",
)


class Reports(Service):
    def weekly(self, weeks: int = WEEKS, until: date | None = None) -> WeeklyReport:
        """The figures of the `weeks` weeks up to the one holding `until` (today for None)."""
        if not 1 <= weeks <= MAX_WEEKS:
            raise InvalidInput(f"weeks must be from 1 to {MAX_WEEKS}", field="weeks")
        clinic_zone = zone(self.settings.clinic_timezone)
        last = until or to_local(self.clock.now(), clinic_zone).date()
        first = last - timedelta(days=last.weekday() + 7 * (weeks - 1))
        mondays = [first + timedelta(days=7 * n) for n in range(weeks + 1)]
        bounds = [to_utc(datetime.combine(day, datetime.min.time()), clinic_zone) for day in mondays]
        with reading(self.database) as db:
            figures = _figures(db, bounds)
        return WeeklyReport(
            timezone=self.settings.clinic_timezone,
            weeks=[_week(mondays[n], figures.get(n, {})) for n in range(weeks)],
        )


def report_csv(report: WeeklyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(report):
        writer.writerow(row)
    return out.getvalue()


def rows(report: WeeklyReport) -> Iterator[list[str]]:
    """The report's figures as text cells, in `CSV_COLUMNS` order (a rate as a ratio to 4 places)."""
    for w in report.weeks:
        rate = "" if w.confirmation_rate is None else f"{w.confirmation_rate:.4f}"
        yield [
            w.week_start.isoformat(),
            *(str(n) for n in (w.attended, w.missed, w.confirm_requests, w.confirmed)),
            rate,
            *(str(n) for n in (w.opt_outs, w.texts_failed, w.texts_expired)),
        ]


Figures = dict[int, dict[str, int]]
Bound = TypeVar("Bound", datetime, int)


def _week(monday: date, counts: dict[str, int]) -> WeekFigures:
    requests, confirmed = counts.get("confirm_requests", 0), counts.get("confirmed", 0)
    return WeekFigures(
        week_start=monday,
        attended=counts.get("attended", 0),
        missed=counts.get("missed", 0),
        confirm_requests=requests,
        confirmed=confirmed,
        confirmation_rate=confirmed / requests if requests else None,
        opt_outs=counts.get("opt_outs", 0),
        texts_failed=counts.get("texts_failed", 0),
        texts_expired=counts.get("texts_expired", 0),
    )


def _week_of(column: SQLColumnExpression[Bound], bounds: Sequence[Bound]) -> ColumnElement[int]:
    """The index of the week `column` falls in (the bounds are each week's first instant or
    quarter hour, and the end); computed by the database, so that it can group by it. The bounds
    come from the clinic's zone in Python, so summer time is right on SQLite and PostgreSQL
    alike."""
    return case(*((column < end, n) for n, end in enumerate(bounds[1:])), else_=None)


def _within(column: SQLColumnExpression[Bound], bounds: Sequence[Bound]) -> ColumnElement[bool]:
    return and_(column >= bounds[0], column < bounds[-1])


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sessions_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, SessionTally.sessions), else_=0)), 0)


def _figures(db: DbSession, bounds: Sequence[datetime]) -> Figures:
    figures: Figures = {}

    def add(names: Sequence[str], statement: Executable) -> None:
        for week, *counts in db.execute(statement):
            if week is not None:
                figures.setdefault(int(week), {}).update(zip(names, map(int, counts), strict=True))

    # The weeks' session tallies, a few rows per quarter hour (`store.tallies`).
    slots = [slot_of(bound) for bound in bounds]
    started = _week_of(SessionTally.slot, slots)
    asked = and_(SessionTally.status != AppointmentStatus.CANCELLED, SessionTally.asked)
    add(
        ("attended", "missed", "confirm_requests", "confirmed"),
        select(
            started,
            _sessions_if(SessionTally.status == AppointmentStatus.ATTENDED),
            _sessions_if(SessionTally.status == AppointmentStatus.MISSED),
            _sessions_if(asked),
            _sessions_if(and_(asked, SessionTally.confirmed)),
        )
        .where(_within(SessionTally.slot, slots))
        .group_by(started),
    )
    opted = _week_of(AuditEntry.at, bounds)
    add(
        ("opt_outs",),
        select(opted, func.count())
        .where(AuditEntry.action == "opt-out", _within(AuditEntry.at, bounds))
        .group_by(opted),
    )
    due = _week_of(Reminder.due_at, bounds)
    add(
        ("texts_failed", "texts_expired"),
        select(
            due,
            _count_if(Reminder.status == ReminderStatus.FAILED),
            _count_if(Reminder.status == ReminderStatus.EXPIRED),
        )
        # Written as the partial index `ix_reminders_troubled` is, so that SQLite's planner uses it.
        .where(text("reminders.status IN ('failed', 'expired')"), _within(Reminder.due_at, bounds))
        .group_by(due),
    )
    return figures
