"""The week view and the sessions with no outcome, through a test client on SQLite and
PostgreSQL: what a front desk needs to see of the days ahead and the days just gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scheduler.app import App
from scheduler.domain.states import AppointmentStatus
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.week import DAY_LIMIT
from scheduler.store.models import Appointment, Patient
from scheduler.web import create_app
from tests.support import FrozenClock
from tests.support.staff_client import csrf_of, sign_in

EMAIL, PASSWORD = "desk@example.org", "correct horse battery"
# The clock stands at Tue 2026-03-03 09:00 in New York (the clinic's zone).


@pytest.fixture
def staff(app: App) -> Iterator[TestClient]:
    Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
    with TestClient(create_app(app), base_url="https://reminders.example.org") as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        yield client


def enrol(app: App, n: int, first: str = "2026-03-09 10:00", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": f"Patient {n:03d}", "phone": f"(201) 555-{n:04d}", "timezone": "America/New_York",
        "protocol": "iv-6x-mwf", "first": first, "consent": "form",
    }  # fmt: skip
    fields.update(changes)
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(EnrolRequest(**fields)))
    return detail


def day_section(html: str, day: str) -> str:
    found = re.search(rf'<section class="card day" id="day-{day}">(.*?)</section>', html, re.S)
    assert found, day
    return found.group(1)


def test_the_week_shows_each_day_its_sessions_confirmations_and_texts(app: App, staff: TestClient) -> None:
    ana = enrol(app, 1)
    bo = enrol(app, 2, first="2026-03-10 14:00", timezone="America/Los_Angeles")
    app.clinic("test").cancel(bo["appointments"][1]["id"])  # Fri 13: not shown
    with app.database() as db:  # Ana confirmed her Monday session
        first = db.get(Appointment, ana["appointments"][0]["id"])
        assert first is not None
        first.confirmed_at = app.clock.now()
        db.commit()
    html = staff.get("/week?start=2026-03-11").text  # any day of the week shows its Monday
    assert "Week of Monday 9 March 2026" in html
    monday = day_section(html, "2026-03-09")
    assert "Patient 001" in monday
    assert "1 session" in monday
    assert "1 confirmed" in monday
    assert "confirm: pending" in monday  # the texts of the session, where they stand
    tuesday = day_section(html, "2026-03-10")
    assert "Patient 002" in tuesday
    assert "Tue 10 Mar 2026 14:00 PDT" in tuesday  # the patient's own time
    assert "Patient 002" not in day_section(html, "2026-03-13")
    assert 'href="/week?start=2026-03-02"' in html
    assert 'href="/week?start=2026-03-16"' in html


def test_a_busy_day_shows_its_first_sessions_and_pages_through_the_rest(app: App, staff: TestClient) -> None:
    for n in range(DAY_LIMIT + 5):
        enrol(app, n, protocol="touch-up-only", first=f"2026-03-12 {8 + n % 10:02d}:{n // 10 * 5:02d}")
    thursday = day_section(staff.get("/week?start=2026-03-12").text, "2026-03-12")
    assert f"{DAY_LIMIT + 5} sessions" in thursday
    assert thursday.count('class="when"') == DAY_LIMIT
    assert "5 more on this day" in thursday
    rest = staff.get(f"/week/day?date=2026-03-12&offset={DAY_LIMIT}").text
    assert f"{DAY_LIMIT + 1}–{DAY_LIMIT + 5} of {DAY_LIMIT + 5}" in rest
    assert staff.get("/week/day?date=12/03/2026").status_code == 400


def test_a_session_with_no_outcome_is_on_today_until_staff_say_how_it_went(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    ana = enrol(app, 1)
    clock.set(datetime.fromisoformat("2026-03-09T17:00:00+00:00"))  # Monday 13:00: the 10:00 session is over
    assert sign_in(staff, EMAIL, PASSWORD).status_code == 303
    today = staff.get("/").text
    assert "Sessions with no outcome recorded" in today
    assert "Patient 001" in today
    session = ana["appointments"][0]["id"]
    answer = staff.post(
        f"/patients/{ana['patient']['id']}/sessions/{session}/outcome",
        data={"csrf": csrf_of(today), "outcome": "attended", "next": "/#outcomes"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/#outcomes"
    today = staff.get("/").text
    assert "Recorded as attended" in today
    assert "Sessions with no outcome recorded" not in today
    assert to_json(app.clinic("t").show(ana["patient"]["id"]))["appointments"][0]["status"] == "attended"


def test_a_busy_today_lists_the_first_sessions_and_links_to_every_one(
    app: App, staff: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.services import today as today_service

    monkeypatch.setattr(today_service, "SESSIONS_SHOWN", 3)
    for n in range(1, 6):  # five first sessions today, Tue 2026-03-03, from 10:00
        enrol(app, n, first=f"2026-03-03 1{n}:00")
    page = staff.get("/").text
    sessions = re.search(r'<section class="card" id="sessions">(.*?)</section>', page, re.S)
    assert sessions
    listed = re.findall(r"Patient (\d{3})</a>", sessions.group(1))
    assert listed == ["001", "002", "003"]
    assert "The first 3 of 5 sessions." in sessions.group(1)
    assert 'href="/week/day?date=2026-03-03"' in sessions.group(1)
    assert 'href="/week/day?date=2026-03-04"' in sessions.group(1)
    every = staff.get("/week/day", params={"date": "2026-03-03"}).text
    assert all(f"Patient {n:03d}" in every for n in range(1, 6))


def test_a_discharged_patients_sessions_count_nowhere_on_the_week_today_or_a_day(
    app: App, staff: TestClient, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.services import today as today_service

    monkeypatch.setattr(today_service, "SESSIONS_SHOWN", 1)  # so that Today counts the rest
    bo = [enrol(app, n, first="2026-03-09 10:00") for n in (1, 2, 3)][1]
    app.clinic("t").discharge(bo["patient"]["id"])  # cancels Bo's sessions ahead
    with app.database() as db:  # ... but one of them had been attended already
        kept = db.get(Appointment, bo["appointments"][0]["id"])
        assert kept is not None
        kept.status, kept.status_reason = AppointmentStatus.ATTENDED, None
        db.commit()
    clock.set(datetime.fromisoformat("2026-03-09T13:00:00+00:00"))  # Monday 09:00
    assert sign_in(staff, EMAIL, PASSWORD).status_code == 303
    monday = day_section(staff.get("/week").text, "2026-03-09")
    assert "2 sessions" in monday
    assert "Patient 002" not in monday
    assert "Patient 001" in monday
    assert "Patient 003" in monday
    day = staff.get("/week/day", params={"date": "2026-03-09"}).text
    assert "2 sessions" in day
    assert "Patient 002" not in day
    sessions = re.search(r'<section class="card" id="sessions">(.*?)</section>', staff.get("/").text, re.S)
    assert sessions
    assert "The first 1 of 2 sessions." in sessions.group(1)


def test_todays_opt_outs_show_the_newest_first_and_say_when_there_are_more(
    app: App, staff: TestClient, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.services import today as today_service

    monkeypatch.setattr(today_service, "LIST_LIMIT", 2)
    patients = [enrol(app, n)["patient"]["id"] for n in (1, 2, 3)]
    with app.database() as db:  # Patient 002 first, then 003, then 001
        for patient_id, hours in zip(patients, (3, 1, 2), strict=True):
            patient = db.get(Patient, patient_id)
            assert patient is not None
            patient.opted_out_at = clock.now() - timedelta(hours=hours)
        db.commit()
    section = re.search(r'<section class="card" id="optouts">(.*?)</section>', staff.get("/").text, re.S)
    assert section
    assert re.findall(r"Patient (\d{3})</a>", section.group(1)) == ["002", "003"]
    assert '<span class="count">2+</span>' in section.group(1)
    assert "The first 2 are shown" in section.group(1)
    with app.database() as db:  # exactly as many as a list shows: nothing more to say
        patient = db.get(Patient, patients[0])
        assert patient is not None
        patient.opted_out_at = None
        db.commit()
    section = re.search(r'<section class="card" id="optouts">(.*?)</section>', staff.get("/").text, re.S)
    assert section
    assert '<span class="count">2</span>' in section.group(1)
    assert "The first 2 are shown" not in section.group(1)


def test_todays_replies_list_is_not_emptied_by_change_requests_listed_above_it(
    app: App, staff: TestClient, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.services import today as today_service
    from scheduler.services.replies import Replies

    monkeypatch.setattr(today_service, "LIST_LIMIT", 2)
    replies = Replies(app.settings, app.protocols, app.database, clock)
    asking = [enrol(app, n)["patient"]["phone"] for n in (1, 2, 3)]
    question = enrol(app, 4)["patient"]["phone"]
    for n, phone in enumerate(asking):  # three change requests first: the list shows two of them
        replies.receive(phone, "R", f"SMchange{n}")
        clock.advance(timedelta(minutes=1))
    replies.receive(question, "Is there parking?", "SMother1")
    page = staff.get("/").text
    changes = re.search(r'<section class="card" id="changes">(.*?)</section>', page, re.S)
    assert changes
    assert '<span class="count">2+</span>' in changes.group(1)
    waiting = re.search(r'<section class="card" id="replies">(.*?)</section>', page, re.S)
    assert waiting, "the replies list is missing"
    assert "Is there parking?" in waiting.group(1)
    assert re.findall(r"Patient (\d{3})</a>", waiting.group(1)) == ["004"]  # the changes are listed above
    assert '<span class="count">1</span>' in waiting.group(1)
    assert "+ items need a person" in page
