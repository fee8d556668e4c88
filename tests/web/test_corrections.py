"""Correcting a patient from the admin pages, through a test client on SQLite and PostgreSQL:
edit with a preview, add and restore sessions, confirm before cancelling or discharging, and a
patient list that pages and finds a number typed any way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from scheduler.app import App
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.replies import Replies
from scheduler.web import create_app
from tests.support.staff_client import csrf_of, post, sign_in

EMAIL, PASSWORD = "desk@example.org", "correct horse battery"
# The clock stands at Tue 2026-03-03 09:00 in New York.


@pytest.fixture
def staff(app: App) -> Iterator[TestClient]:
    Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
    with TestClient(create_app(app), base_url="https://reminders.example.org") as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        yield client


def enrol(app: App, name: str = "Ana Lima", phone: str = "(201) 555-0123", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name, "phone": phone, "timezone": "America/New_York", "protocol": "iv-6x-mwf",
        "first": "2026-03-09 10:00", "consent": "form",
    }  # fmt: skip
    fields.update(changes)
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(EnrolRequest(**fields)))
    return detail


def form_values(html: str) -> dict[str, str]:
    """The hidden fields a page's form carries."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_an_edit_is_previewed_then_saved(app: App, staff: TestClient) -> None:
    pid = enrol(app)["patient"]["id"]
    form = staff.get(f"/patients/{pid}/edit").text
    assert 'value="Ana Lima"' in form
    fields = {"name": "Ana Lima", "timezone": "America/Chicago", "consent": "form", "external_id": "MRN-5",
              "language": "es", "protocol": "iv-6x-mwf", "from": ""}  # fmt: skip
    preview = post(staff, f"/patients/{pid}/edit/preview", fields, page=f"/patients/{pid}/edit")
    assert preview.status_code == 200
    assert "Check the changes, then save" in preview.text
    for shown in ("America/New_York", "America/Chicago", "MRN-5"):
        assert shown in preview.text
    assert "Mon 9 Mar 2026 10:00 CDT" in preview.text  # the same wall-clock time, in the right zone
    assert to_json(app.clinic("t").show(pid))["patient"]["timezone"] == "America/New_York"  # not yet

    values = form_values(preview.text)
    saved = staff.post(f"/patients/{pid}/edit", data=values, follow_redirects=False)
    assert saved.status_code == 303
    patient = to_json(app.clinic("t").show(pid))["patient"]
    assert (patient["timezone"], patient["external_id"], patient["language"]) == (
        "America/Chicago",
        "MRN-5",
        "es",
    )
    assert "Saved; the texts ahead are re-planned." in staff.get(f"/patients/{pid}").text


def test_a_bad_edit_is_shown_by_its_field_and_saves_nothing(app: App, staff: TestClient) -> None:
    pid = enrol(app)["patient"]["id"]
    fields = {"name": "Ana Lima", "timezone": "Mars/Olympus", "consent": "form", "external_id": "",
              "language": "en", "protocol": "esk-trd", "from": ""}  # fmt: skip
    answer = post(staff, f"/patients/{pid}/edit/preview", fields, page=f"/patients/{pid}/edit")
    assert answer.status_code == 400
    assert 'id="timezone-error"' in answer.text
    assert 'id="from-error">a new protocol needs the day its course starts' in answer.text
    assert to_json(app.clinic("t").show(pid))["patient"]["protocol"] == "iv-6x-mwf"


def test_cancelling_asks_first_and_a_cancelled_session_can_be_restored(app: App, staff: TestClient) -> None:
    detail = enrol(app)
    pid, third = detail["patient"]["id"], detail["appointments"][2]["id"]
    page = staff.get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/sessions/{third}/cancel"' in page  # a link to a question, not a button
    question = staff.get(f"/patients/{pid}/sessions/{third}/cancel")
    assert "Cancel Induction session 3 for Ana Lima?" in question.text
    assert to_json(app.clinic("t").show(pid))["appointments"][2]["status"] == "scheduled"
    csrf = csrf_of(question.text)
    assert staff.post(f"/patients/{pid}/sessions/{third}/cancel", data={"csrf": csrf}).status_code == 200
    assert to_json(app.clinic("t").show(pid))["appointments"][2]["status"] == "cancelled"

    page = staff.get(f"/patients/{pid}").text
    assert f'action="/patients/{pid}/sessions/{third}/restore"' in page
    restored = post(staff, f"/patients/{pid}/sessions/{third}/restore", page=f"/patients/{pid}")
    assert restored.status_code == 303
    assert to_json(app.clinic("t").show(pid))["appointments"][2]["status"] == "scheduled"


def test_discharging_asks_first(app: App, staff: TestClient) -> None:
    pid = enrol(app)["patient"]["id"]
    question = staff.get(f"/patients/{pid}/discharge")
    assert "Discharge Ana Lima?" in question.text
    assert "7 session(s) ahead are cancelled" in question.text
    assert to_json(app.clinic("t").show(pid))["patient"]["status"] == "active"
    staff.post(f"/patients/{pid}/discharge", data={"csrf": csrf_of(question.text)})
    assert to_json(app.clinic("t").show(pid))["patient"]["status"] == "discharged"


def test_a_session_is_added_from_the_patient_page(app: App, staff: TestClient) -> None:
    pid = enrol(app)["patient"]["id"]
    added = post(staff, f"/patients/{pid}/sessions", {"when": "2026-03-10T15:00"}, page=f"/patients/{pid}")
    assert added.status_code == 303
    page = staff.get(f"/patients/{pid}").text
    assert "Session added; the patient will be told of it." in page
    assert "Tue 10 Mar 2026 15:00 EDT" in page
    refused = post(staff, f"/patients/{pid}/sessions", {"when": "2026-03-10T18:00"}, page=f"/patients/{pid}")
    assert refused.status_code == 303
    assert "already has a session on 2026-03-10" in staff.get(f"/patients/{pid}").text


def test_the_patient_list_pages_and_finds_a_number_typed_any_way(app: App, staff: TestClient) -> None:
    for n in range(53):
        enrol(app, name=f"Patient {n:02d}", phone=f"(201) 555-{n:04d}")
    first = staff.get("/patients").text
    assert "1–50 of 53" in first
    assert first.count('href="/patients/') >= 50
    second = staff.get("/patients?offset=50").text
    assert "51–53 of 53" in second
    assert "Patient 52" in second
    assert "Patient 00" not in second
    for typed in ("(201) 555-0023", "201-555-0023", "+1 201 555 0023", "0023"):
        found = staff.get("/patients", params={"q": typed}).text
        assert "1–1 of 1" in found, typed
        assert "Patient 23" in found


def test_the_timeline_shows_each_automatic_answer_and_each_texts_delivery(
    app: App, staff: TestClient
) -> None:
    detail = enrol(app)
    answer = Replies(app.settings, app.protocols, app.database, app.clock).receive(
        "+12015550123", "Is there parking?", "SMreply1"
    )
    assert answer is not None
    page = staff.get(f"/patients/{detail['patient']['id']}").text
    log = page[page.index('id="messages"') :]
    assert "← reply" in log
    assert "Is there parking?" in log
    assert "→ automatic answer" in log
    assert escape(answer) in log
    assert log.index("automatic answer") < log.index("Is there parking?")  # newest first: the answer
