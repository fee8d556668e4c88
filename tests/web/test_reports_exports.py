"""The Reports and Export pages and GET /api/v1/reports/weekly through the real app, on SQLite
and PostgreSQL: charts and a table with the service's figures, CSV downloads (audited), and bad
input answered 422 with one clear error and nothing written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from scheduler.app import App
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.api_tokens import ApiTokens
from scheduler.services.replies import Replies
from scheduler.store.models import AuditEntry
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock, utc
from tests.support.staff_client import csrf_of, sign_in

# The clock stands at Tue 2026-03-03 09:00 in New York.
EMAIL = "staff@example.org"
PASSWORD = "correct horse battery"


@pytest.fixture
def staff(app: App) -> Iterator[TestClient]:
    Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
    with TestClient(create_app(app), base_url="https://reminders.example.org") as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        yield client


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    token = ApiTokens(app.database, app.clock).add("ehr")
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def history(app: App, clock: FrozenClock) -> None:
    """Two patients: one attended two sessions, one missed one, in the weeks of 2 and 9 March."""
    clinic = app.clinic("test")
    ana = clinic.enrol(
        EnrolRequest("=Ana", "+12015550123", "America/New_York", "iv-6x-mwf", "2026-03-04 10:00", "f")
    )
    bo = clinic.enrol(
        EnrolRequest("Bo", "+12015550124", "America/New_York", "iv-6x-mwf", "2026-03-05 10:00", "f")
    )
    clock.set(utc(2026, 3, 5, 20))
    clinic.outcome(ana.appointments[0].id, "attended")
    clinic.outcome(bo.appointments[0].id, "missed")
    clock.set(utc(2026, 3, 10, 20))
    clinic.outcome(ana.appointments[2].id, "attended")  # Monday 9 March


def exports_audited(app: App) -> list[dict[str, Any]]:
    with UnitOfWork(app.database) as uow:
        return list(uow.db.scalars(select(AuditEntry.details).where(AuditEntry.action == "export")))


def audit_count(app: App) -> int:
    with UnitOfWork(app.database) as uow:
        return uow.db.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_the_reports_page_draws_the_services_figures_as_charts_and_a_table(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    history(app, clock)
    sign_in(staff, EMAIL, PASSWORD)  # the clock moved on a week
    page = staff.get("/reports")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/reports" aria-current="page">Reports</a>' in html
    assert "<script" not in html
    assert html.count('<svg class="chart"') == 4
    for chart in ("sessions", "confirmation", "opt-outs", "texts"):
        assert f'aria-labelledby="chart-{chart}-title chart-{chart}-desc"' in html
    assert "<title>Attended, week of Mar 2: 1</title>" in html
    assert "<title>Missed, week of Mar 2: 1</title>" in html
    assert "<title>Attended, week of Mar 9: 1</title>" in html
    assert "<title>Attended, week of Feb 23: 0</title>" in html
    week = r'<th scope="row" data-label="Week of">([\d-]+)</th>'
    rows = re.findall(
        week + r'\s*<td data-label="Attended">(\d+)</td>\s*<td data-label="Missed">(\d+)</td>', html
    )
    assert len(rows) == 12
    assert rows[-2:] == [("2026-03-02", "1", "1"), ("2026-03-09", "1", "0")]

    download = staff.get("/reports.csv")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == 'attachment; filename="weekly-report-2026-03-09.csv"'
    table = list(csv.DictReader(io.StringIO(download.text)))
    report = app.reports("test").weekly()
    assert [(r["week_start"], int(r["attended"]), int(r["missed"])) for r in table] == [
        (w.week_start.isoformat(), w.attended, w.missed) for w in report.weeks
    ]


def test_a_bad_week_on_the_reports_page_is_refused_with_one_clear_error(app: App, staff: TestClient) -> None:
    page = staff.get("/reports?until=2026-02-30")
    assert page.status_code == 422
    assert re.findall(r'role="alert">([^<]*)<', page.text) == [
        "The until date must be a real date written YYYY-MM-DD, like 2026-03-01"
    ]
    assert staff.get("/reports.csv?until=soon").status_code == 422
    earlier = staff.get("/reports?until=2026-01-04")
    assert earlier.status_code == 200
    assert "the week of Monday 29 December 2025" in earlier.text


def test_the_export_page_downloads_patients_as_csv_and_audits_it(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    history(app, clock)
    sign_in(staff, EMAIL, PASSWORD)
    page = staff.get("/export")
    assert page.status_code == 200
    assert '<a href="/export" aria-current="page">Export</a>' in page.text
    csrf = csrf_of(page.text)
    response = staff.post("/export/patients", data={"csrf": csrf})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="patients-2026-03-10.csv"'
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [(r["id"], r["name"], r["sessions_attended"], r["sessions_missed"]) for r in rows] == [
        ("1", "'=Ana", "2", "0"),
        ("2", "Bo", "0", "1"),
    ]
    assert exports_audited(app) == [{"what": "patients", "rows": 2}]
    with UnitOfWork(app.database) as uow:
        assert (
            uow.db.scalars(select(AuditEntry.actor).where(AuditEntry.action == "export")).one()
            == f"user:{EMAIL}"
        )


def test_the_message_log_export_takes_a_range_and_bodies_only_when_ticked(
    app: App, staff: TestClient
) -> None:
    app.clinic("test").enrol(
        EnrolRequest("Ana", "+12015550123", "America/New_York", "iv-6x-mwf", "2026-03-04 10:00", "f")
    )
    Replies(app.settings, app.protocols, app.database, app.clock).receive("+12015550123", "Parking?", "SM1")
    csrf = csrf_of(staff.get("/export").text)
    plain = staff.post("/export/messages", data={"csrf": csrf, "from": "2026-03-03", "to": "2026-03-03"})
    assert plain.status_code == 200
    rows = list(csv.DictReader(io.StringIO(plain.text, newline="")))
    assert [(r["direction"], r["kind"], r["status"]) for r in rows] == [
        ("in", "reply", "other"),
        ("out", "automatic answer", "answered"),
    ]
    assert "body" not in rows[0]
    assert "Parking?" not in plain.text
    bodies = staff.post("/export/messages", data={"csrf": csrf, "from": "2026-03-03", "bodies": "yes"})
    assert next(r["body"] for r in csv.DictReader(io.StringIO(bodies.text, newline=""))) == "Parking?"
    none = staff.post("/export/messages", data={"csrf": csrf, "from": "2026-03-04", "to": "2026-03-04"})
    assert none.text == "at,direction,patient_id,external_id,kind,status,error_code\r\n"
    assert [d["rows"] for d in exports_audited(app)] == [2, 2, 0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"from": "2026-03-05", "to": "2026-03-04"}, "the to date is before the from date"),
        ({"from": "03/04/2026"}, "the from date must be a real date written YYYY-MM-DD, like 2026-03-01"),
        ({"to": "2026-02-29"}, "the to date must be a real date written YYYY-MM-DD, like 2026-03-01"),
    ],
)
def test_a_bad_range_is_answered_422_with_one_error_and_nothing_exported(
    app: App, staff: TestClient, fields: dict[str, str], message: str
) -> None:
    csrf = csrf_of(staff.get("/export").text)
    before = audit_count(app)
    response = staff.post("/export/messages", data={"csrf": csrf, **fields})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert re.findall(r'role="alert">([^<]*)<', response.text) == [
        f"{message.capitalize()[0]}{message[1:]}; nothing was exported."
    ]
    assert f'value="{next(iter(fields.values()))}"' in response.text  # what was typed is kept
    assert audit_count(app) == before


def test_the_api_gives_the_weekly_figures_as_the_service_computes_them(
    app: App, api: TestClient, clock: FrozenClock
) -> None:
    history(app, clock)
    response = api.get("/api/v1/reports/weekly", params={"weeks": 3, "until": "2026-03-10"})
    assert response.status_code == 200
    body = response.json()
    assert body == to_json(app.reports("test").weekly(3, until=date(2026, 3, 10)))
    assert [(w["week_start"], w["attended"], w["missed"]) for w in body["weeks"]] == [
        ("2026-02-23", 0, 0),
        ("2026-03-02", 1, 1),
        ("2026-03-09", 1, 0),
    ]
    assert body["timezone"] == "America/New_York"
    assert len(api.get("/api/v1/reports/weekly").json()["weeks"]) == 12


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"weeks": "0"}, ["query", "weeks"]),
        ({"weeks": "105"}, ["query", "weeks"]),
        ({"weeks": "many"}, ["query", "weeks"]),
        ({"until": "2026-02-30"}, ["query", "until"]),
    ],
)
def test_bad_api_parameters_are_answered_422_naming_them(
    app: App, api: TestClient, query: dict[str, str], loc: list[str]
) -> None:
    before = audit_count(app)
    response = api.get("/api/v1/reports/weekly", params=query)
    assert response.status_code == 422
    assert [[e["location"], e["field"]] for e in response.json()["errors"]] == [loc]
    assert audit_count(app) == before
