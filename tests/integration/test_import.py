"""A CSV import writes exactly what enrolling the same patients one at a time writes: the same
patients, sessions, planned texts (keys, kinds, times, deadlines, skips and their reasons) and
audit entries, stored value for stored value, for every protocol, language and zone."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from sqlalchemy import text

from scheduler.app import App
from scheduler.services import EnrolRequest
from scheduler.store.uow import UnitOfWork

TABLES = ("patients", "appointments", "reminders", "audit_log")
# Zones on both sides of the clinic's, one without daylight saving, one half an hour off.
ZONES = ("America/New_York", "Pacific/Honolulu", "America/Phoenix", "Europe/London", "Asia/Kolkata")
# Wall-clock times of first sessions: before the send window opens, inside it, after it closes.
TIMES = ("07:30", "09:00", "10:15", "12:45", "17:00", "20:30")
# The clock fixture stands at Tue 2026-03-03 09:00 in New York: the first sessions fall from the
# next day (texts booked too late to go) to weeks ahead, a Saturday and a Sunday among them.
DAYS = ("2026-03-04", "2026-03-05", "2026-03-07", "2026-03-08", "2026-03-10", "2026-03-17", "2026-04-20")


def patients(app: App) -> list[EnrolRequest]:
    """Every protocol in both languages and several zones; every third patient has a twin whose
    course has the same times (an import plans those once), a few rows apart, so that session
    ids of different lengths (9 and 10, 99 and 100) name the same course."""
    requests: list[EnrolRequest] = []
    twins: list[EnrolRequest] = []
    n = 0
    for protocol in sorted(app.protocols):
        for language in ("en", "es"):
            for zone in ZONES:
                n += 1
                patient = EnrolRequest(
                    name=f"Patient {n}",
                    phone=f"(201) 555-{n:04d}",
                    timezone=zone,
                    protocol=protocol,
                    first=f"{DAYS[n % len(DAYS)]} {TIMES[n % len(TIMES)]}",
                    consent="intake-form",
                    language=language,
                    external_id=f"MRN-{n}" if n % 3 else "",
                )
                requests.append(patient)
                if n % 3 == 0:
                    twins.append(replace(patient, name=f"Twin {n}", phone=f"(201) 555-{n + 5000:04d}"))
                if n % 4 == 0 and twins:
                    requests.append(twins.pop(0))
    return requests + twins


def as_csv(requests: list[EnrolRequest]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "timezone", "protocol", "first", "consent", "language", "external_id"])
    for r in requests:
        writer.writerow(
            [r.name, r.phone, r.timezone, r.protocol, r.first, r.consent, r.language, r.external_id]
        )
    return out.getvalue()


def stored(app: App) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables an enrolment writes, as the database holds them."""
    with UnitOfWork(app.database) as uow:
        return {
            table: [dict(row._mapping) for row in uow.db.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in TABLES
        }


def empty(app: App) -> None:
    with UnitOfWork(app.database) as uow:
        if uow.db.get_bind().dialect.name == "postgresql":
            uow.db.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(TABLES):
                uow.db.execute(text(f"DELETE FROM {table}"))
        uow.commit()


def test_an_import_stores_what_enrolling_one_at_a_time_stores(app: App) -> None:
    requests = patients(app)
    clinic = app.clinic("test:staff")
    for request in requests:
        clinic.enrol(request)
    enrolled = stored(app)
    assert {p["protocol"] for p in enrolled["patients"]} == set(
        app.protocols
    )  # every protocol is in the file
    # Texts that go and texts skipped (booked too late, outside the window, the daily limit).
    assert len({r["reason"] for r in enrolled["reminders"]}) > 2
    empty(app)

    report = clinic.import_csv(as_csv(requests))

    assert report.ok, report
    assert len(report.patient_ids) == len(requests)
    imported = stored(app)
    for table in TABLES:
        assert len(imported[table]) == len(enrolled[table]), table
        for row, expected in zip(imported[table], enrolled[table], strict=True):
            assert row == expected, table
