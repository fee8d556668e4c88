"""The staff's web pages through a test client, on SQLite and PostgreSQL: sign-in on every route,
CSRF on every form, sign-in throttling, escaping, and each page doing what the CLI does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from markupsafe import escape
from sqlalchemy import func, select, update

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.replies import Replies
from scheduler.store.models import AuditEntry, Base, HandledItem, Message, Patient, Reminder, Reply
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock
from tests.support.staff_client import csrf_of, flat_routes, post, sign_in

# The clock stands at Tue 2026-03-03 09:00 in New York; DST starts there on Sun 2026-03-08.
EMAIL = "staff@example.org"
PASSWORD = "correct horse battery"
# Not staff pages: signing in, files, machines' endpoints (health, Prometheus, Twilio, the API).
NOT_ADMIN_PAGES = ("/login", "/static", "/healthz", "/metrics", "/twilio/", "/api/", "/openapi.json")


@pytest.fixture
def web(app: App) -> Iterator[TestClient]:
    """A client of the app behind its TLS proxy: session cookies are Secure, so it speaks https."""
    Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
    with TestClient(create_app(app), base_url="https://reminders.example.org") as client:
        yield client


@pytest.fixture
def staff(web: TestClient) -> TestClient:
    """The client, signed in."""
    response = sign_in(web, EMAIL, PASSWORD)
    assert response.status_code == 303, response.text
    return web


def enrol(app: App, name: str = "Ana Lima", phone: str = "(201) 555-0123", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "timezone": "America/New_York",
        "protocol": "iv-6x-mwf",
        "first": "2026-03-09 10:00",
        "consent": "intake form",
    }
    fields.update(changes)
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(EnrolRequest(**fields)))
    return detail


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused request changed nothing."""
    with app.engine.connect() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def reminders(app: App, patient_id: int) -> dict[int, tuple[str, str | None]]:
    with UnitOfWork(app.database) as uow:
        rows = uow.db.scalars(select(Reminder).where(Reminder.patient_id == patient_id))
        return {r.id: (r.status, r.reason) for r in rows}


def admin_routes(app: App, method: str) -> list[str]:
    """The admin's routes for `method`, from the app's own route table."""
    return sorted(
        path
        for path, route in flat_routes(create_app(app).routes)
        if method in (route.methods or set()) and not path.startswith(NOT_ADMIN_PAGES)
    )


def fill(path: str, patient_id: int = 1, appointment_id: int = 1) -> str:
    return path.replace("{patient_id}", str(patient_id)).replace("{appointment_id}", str(appointment_id))


# -- sign-in and CSRF --------------------------------------------------------------------------------


def test_every_page_sends_a_signed_out_visitor_to_sign_in(app: App, web: TestClient) -> None:
    enrol(app)
    pages = admin_routes(app, "GET")
    assert {"/", "/patients", "/patients/{patient_id}", "/enrol", "/messages", "/import"} <= set(pages)
    for path in pages:
        response = web.get(fill(path), follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    before = snapshot(app)
    for path in admin_routes(app, "POST"):
        if path == "/login":
            continue
        response = web.post(fill(path), data={"csrf": "x"}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    assert snapshot(app) == before


def test_a_form_post_without_this_sessions_csrf_token_is_refused_and_changes_nothing(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    detail = enrol(app)
    patient_id = detail["patient"]["id"]
    appointment_id = detail["appointments"][1]["id"]
    # Fields a real form would send, so that only the token is wrong.
    fields = {
        "name": "Bo Chen", "phone": "(201) 555-0456", "timezone": "America/New_York",
        "protocol": "iv-6x-mwf", "first": "2026-03-10T10:00", "consent": "verbal", "interval": "",
        "when": "2026-03-12T15:30", "outcome": "missed", "days": "35", "item": f"optout:{patient_id}",
        "text": "name,phone,timezone,protocol,first,consent\n"
                "Cy Diaz,(201) 555-0789,America/New_York,iv-6x-mwf,2026-03-10 10:00,verbal\n",
        "email": EMAIL, "password": PASSWORD,
    }  # fmt: skip
    with TestClient(staff.app, base_url="https://reminders.example.org") as other:
        foreign = csrf_of(other.get("/login").text)  # a token, but another visitor's
    posts = admin_routes(app, "POST")
    assert {"/logout", "/enrol", "/enrol/preview", "/import", "/handled"} <= set(posts)
    before = snapshot(app)
    for path in posts:
        for bad in (None, "", "forged", foreign):
            data = dict(fields) if bad is None else {**fields, "csrf": bad}
            response = staff.post(fill(path, patient_id, appointment_id), data=data, follow_redirects=False)
            assert response.status_code == 403, (path, bad)
    assert snapshot(app) == before
    assert staff.get("/", follow_redirects=False).status_code == 200  # sign-out was refused too


def test_five_wrong_passwords_slow_sign_in_down_even_for_the_right_one(
    app: App, web: TestClient, clock: FrozenClock
) -> None:
    for _ in range(5):
        response = sign_in(web, EMAIL, "not the password")
        assert response.status_code == 401
        assert "wrong email or password" in response.text
        assert EMAIL in response.text  # the email is kept in the form
    refused = sign_in(web, EMAIL, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "too many attempts" in refused.text
    assert web.get("/", follow_redirects=False).status_code == 303
    clock.advance(timedelta(seconds=int(refused.headers["Retry-After"]) + 1))
    assert sign_in(web, EMAIL, PASSWORD).status_code == 303
    assert web.get("/", follow_redirects=False).status_code == 200


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(web: TestClient) -> None:
    asked = web.get("/patients?q=lima", follow_redirects=False)
    assert asked.headers["location"] == "/login?next=/patients%3Fq%3Dlima"
    csrf = csrf_of(web.get("/login?next=//evil.example").text)
    response = web.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf": csrf, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_sign_out_ends_the_session(staff: TestClient) -> None:
    response = post(staff, "/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert staff.get("/", follow_redirects=False).status_code == 303


def test_a_name_with_markup_is_shown_as_text_everywhere(app: App, staff: TestClient) -> None:
    name = '<script>alert("x")</script> Lima'
    detail = enrol(app, name, first="2026-03-04 10:00")  # tomorrow: on Today's session list
    Replies(app.settings, app.protocols, app.database, app.clock).receive(
        detail["patient"]["phone"], "<b>is parking free?</b>", "SMreply1"
    )
    patient_id = detail["patient"]["id"]
    for path in ("/", "/patients", "/patients?q=lima", f"/patients/{patient_id}", "/messages"):
        html = staff.get(path).text
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Lima" in html, path
    assert "<b>is parking" not in staff.get("/").text
    assert "&lt;b&gt;is parking free?&lt;/b&gt;" in staff.get("/").text


def test_an_unknown_patient_is_a_not_found_page(staff: TestClient) -> None:
    response = staff.get("/patients/999")
    assert response.status_code == 404
    assert "no patient with id 999" in response.text


# -- Today -------------------------------------------------------------------------------------------


def test_today_lists_what_needs_a_person_and_mark_handled_takes_it_off(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    replies = Replies(app.settings, app.protocols, app.database, clock)
    ana = enrol(app, "Ana Lima", "(201) 555-0123", first="2026-03-04 10:00")
    bo = enrol(app, "Bo Chen", "(201) 555-0456", first="2026-03-03 10:30")
    cy = enrol(app, "Cy Diaz", "(201) 555-0789")
    di = enrol(app, "Di Eve", "(201) 555-0147")
    ed = enrol(app, "Ed Fox", "(201) 555-0158")
    replies.receive(ana["patient"]["phone"], "R", "SMchange1")
    replies.receive(bo["patient"]["phone"], "Is there parking?", "SMother1")
    replies.receive(di["patient"]["phone"], "STOP", "SMstop1")
    failed_text = next(r["id"] for r in cy["reminders"] if r["kind"] == "welcome")
    with UnitOfWork(app.database) as uow:
        uow.db.execute(
            update(Reminder)
            .where(Reminder.id == failed_text)
            .values(status="failed", reason="needs-review", error_code=30007)
        )
        uow.db.execute(
            update(Patient).where(Patient.id == ed["patient"]["id"]).values(phone_invalid_at=clock.now())
        )
        uow.commit()
    clock.advance(timedelta(hours=2))  # 11:00: Bo's 10:30 session is over
    assert sign_in(staff, EMAIL, PASSWORD).status_code == 303  # back after the session ran idle
    missed = bo["appointments"][0]["id"]
    app.clinic("test").outcome(missed, "missed")
    reply_id = _only_id(app, Reply, Reply.intent == "other")

    page = staff.get("/").text
    assert "Sessions today and tomorrow" in page
    assert "Wed 4 Mar 2026 10:00 EST" in page  # Ana's first session, tomorrow, in her zone
    expected = {
        f"change:{ana['appointments'][0]['id']}": "asked to change induction session 1",
        f"missed:{missed}": "missed induction session 1",
        f"reminder:{failed_text}": "welcome text failed (needs-review, code 30007)",
        f"phone:{ed['patient']['id']}": "(201) 555-0158 cannot receive texts",
        f"optout:{di['patient']['id']}": "opted out of texts",
        f"reply:{reply_id}": "Is there parking?",
    }
    for key, words in expected.items():
        assert f'value="{key}"' in page, key
        assert words in page, key
    assert "Ana Lima" in page
    assert f'href="/patients/{ana["patient"]["id"]}"' in page
    # Ana's "R" is listed once, as the change request, not again as a reply.
    assert page.count('value="reply:') == 1

    for key in expected:
        response = post(staff, "/handled", {"item": key, "next": "/#changes"})
        assert response.status_code == 303
        assert response.headers["location"] == "/#changes"
    page = staff.get("/").text
    for key in expected:
        assert f'value="{key}"' not in page, key
    with UnitOfWork(app.database) as uow:
        handlers = set(uow.db.scalars(select(HandledItem.handled_by)))
        assert handlers == {f"user:{EMAIL}"}
        assert uow.db.scalar(select(func.count()).where(Reply.handled_at.is_(None))) == 0

    # Asking for a change again puts the request back on the list.
    clock.advance(timedelta(minutes=5))
    replies.receive(ana["patient"]["phone"], "R", "SMchange2")
    assert f'value="change:{ana["appointments"][0]["id"]}"' in staff.get("/").text


def test_marking_something_that_is_not_an_item_is_a_message_not_an_error(staff: TestClient) -> None:
    for item in ("reminder:999", "nonsense", "reply:abc", ""):
        response = post(staff, "/handled", {"item": item})
        assert response.status_code == 303
        page = staff.get("/").text
        assert 'class="flash problem"' in page, item


def _only_id(app: App, model: type[Reply], *where: Any) -> int:
    with UnitOfWork(app.database) as uow:
        ids = list(uow.db.scalars(select(model.id).where(*where)))
    assert len(ids) == 1
    return ids[0]


# -- patients ----------------------------------------------------------------------------------------


def test_patients_are_found_by_name_or_the_last_digits_of_their_number(app: App, staff: TestClient) -> None:
    ana = enrol(app, "Ana Lima", "(201) 555-0123")
    enrol(app, "Bo Chen", "(201) 555-0456")
    app.clinic("test").pause(ana["patient"]["id"])

    def names(query: str) -> set[str]:
        response = staff.get(query)
        assert response.status_code == 200, query
        return {n for n in ("Ana Lima", "Bo Chen") if n in response.text}

    assert names("/patients") == {"Ana Lima", "Bo Chen"}
    assert names("/patients?q=lima") == {"Ana Lima"}
    assert names("/patients?q=CHE") == {"Bo Chen"}
    assert names("/patients?q=0456") == {"Bo Chen"}
    assert names("/patients?q=555-0123") == {"Ana Lima"}
    assert names("/patients?q=9999") == set()
    assert names("/patients?q=%25") == set()  # a literal %, not a wildcard
    assert names("/patients?status=paused") == {"Ana Lima"}
    assert names("/patients?status=active&q=0123") == set()
    bad = staff.get("/patients?status=sleeping")
    assert bad.status_code == 400
    assert "status must be one of" in bad.text


# -- messages ----------------------------------------------------------------------------------------


def test_the_messages_log_shows_texts_and_replies_and_filters_them(
    app: App, staff: TestClient, dispatcher: Dispatcher
) -> None:
    enrol(app, "Ana Lima", "(201) 555-0123")
    enrol(app, "Bo Chen", "(201) 555-0456")
    dispatcher.drain()  # the two welcome texts
    Replies(app.settings, app.protocols, app.database, app.clock).receive(
        "+12015550456", "Running late, sorry", "SMr1"
    )
    with UnitOfWork(app.database) as uow:
        texts = list(uow.db.scalars(select(Message)))
        assert len(texts) == 2
        status = texts[0].status
        welcome = str(escape(texts[0].body))  # as the page shows it

    def log(query: str) -> str:
        response = staff.get("/messages" + query)
        assert response.status_code == 200, query
        html: str = response.text
        return html

    everything = log("")
    assert welcome in everything
    assert "Running late, sorry" in everything
    assert "Running late" not in log("?show=texts")
    assert welcome in log("?show=texts")
    replies = log("?show=replies")
    assert "Running late" in replies
    assert welcome not in replies
    assert "Running late" in log("?status=other")
    assert welcome not in log("?status=other")
    assert welcome in log(f"?status={status}")
    assert "Running late" not in log(f"?status={status}")
    only_ana = log("?q=lima")
    assert "Ana Lima" in only_ana
    assert "Bo Chen" not in only_ana
    assert "Bo Chen" in log("?q=0456&show=replies")
    assert "Ana Lima" not in log("?q=0456")
    assert staff.get("/messages?show=everything").status_code == 400


# -- CSV import --------------------------------------------------------------------------------------

HEADER = "name,phone,timezone,protocol,first,consent\n"
GOOD = "Ana Lima,(201) 555-0123,America/New_York,iv-6x-mwf,2026-03-09 10:00,intake form\n"
ALSO_GOOD = "Bo Chen,(201) 555-0456,America/Chicago,esk-trd,2026-03-10 09:00,verbal\n"


def patients_count(app: App) -> int:
    with UnitOfWork(app.database) as uow:
        return uow.db.scalar(select(func.count()).select_from(Patient)) or 0


def upload(client: TestClient, text: str, dry_run: bool = False) -> Response:
    csrf = csrf_of(client.get("/import").text)
    data = {"csrf": csrf, **({"dry_run": "yes"} if dry_run else {})}
    files = {"file": ("patients.csv", text.encode(), "text/csv")}
    response: Response = client.post("/import", data=data, files=files, follow_redirects=False)
    return response


def test_a_csv_import_reports_every_bad_row_by_line_and_writes_nothing(app: App, staff: TestClient) -> None:
    bad = "Cy Diaz,not a number,America/New_York,iv-6x-mwf,2026-03-09 10:00,verbal\n"
    worse = "Di Eve,(201) 555-0789,Mars/Olympus,iv-6x-mwf,2026-03-09 10:00,verbal\n"
    response = upload(staff, HEADER + GOOD + bad + ALSO_GOOD + worse)
    assert response.status_code == 400
    assert "2 bad rows out of 4; nothing was imported" in response.text
    assert re.search(r"line 3</td><td>the phone number has letters: type its digits", response.text)
    assert re.search(r"line 5</td><td>unknown timezone", response.text)
    assert patients_count(app) == 0


def test_a_csv_import_can_be_checked_first_then_imported(app: App, staff: TestClient) -> None:
    checked = upload(staff, HEADER + GOOD + ALSO_GOOD, dry_run=True)
    assert checked.status_code == 200
    assert "2 rows are valid; nothing was written" in checked.text
    assert patients_count(app) == 0
    imported = upload(staff, HEADER + GOOD + ALSO_GOOD)
    assert imported.status_code == 303
    assert imported.headers["location"] == "/patients"
    assert "Imported 2 patient(s)" in staff.get("/patients").text
    assert patients_count(app) == 2
    again = post(staff, "/import", {"text": HEADER + GOOD})  # pasted, and a number already in care
    assert again.status_code == 400
    assert "line 2" in again.text
    assert "already has this phone number" in again.text
    assert patients_count(app) == 2


def test_an_import_without_a_file_or_with_one_that_is_not_text_says_so(app: App, staff: TestClient) -> None:
    assert "choose a CSV file or paste" in post(staff, "/import").text
    csrf = csrf_of(staff.get("/import").text)
    response = staff.post(
        "/import", data={"csrf": csrf}, files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")}
    )
    assert response.status_code == 400
    assert "not UTF-8 text" in response.text
    assert patients_count(app) == 0


# -- enrolment ---------------------------------------------------------------------------------------

FORM = {
    "name": "Ana Lima",
    "phone": "(201) 555-0123",
    "timezone": "America/New_York",
    "protocol": "iv-6x-mwf",
    "first": "2026-03-09T10:00",
    "consent": "intake form",
    "interval": "",
}


def test_the_enrol_form_shows_each_problem_by_its_field_and_keeps_what_was_typed(
    app: App, staff: TestClient
) -> None:
    typed = {**FORM, "phone": "555-12", "consent": "  ", "interval": "soon"}
    response = post(staff, "/enrol/preview", typed)
    assert response.status_code == 400
    html = response.text
    assert 'id="phone-error">the phone number' in html
    assert 'id="consent-error">consent source is required' in html
    assert 'id="interval-error">the touch-up interval must be a whole number of days' in html
    assert 'name="phone" type="tel" value="555-12"' in html
    assert 'name="name" value="Ana Lima"' in html
    assert 'name="first" type="datetime-local" value="2026-03-09T10:00"' in html
    assert 'aria-invalid="true" aria-describedby="phone-error"' in html
    assert 'value="soon"' in html
    assert patients_count(app) == 0
    past = post(staff, "/enrol/preview", {**FORM, "first": "2026-03-02T10:00"})
    assert (
        'id="first-error">the first session (2026-03-02 10:00 America/New_York) is in the past' in past.text
    )


def test_the_preview_shows_the_plan_in_local_time_and_saving_plans_exactly_that(
    app: App, staff: TestClient
) -> None:
    preview = post(staff, "/enrol/preview", FORM)
    assert preview.status_code == 200
    html = preview.text
    assert "Mon 9 Mar 2026 10:00 EDT" in html  # after the change to summer time
    assert "Induction session 6" in html
    # The messages as the patient will get them: Tuesday's check-in and Wednesday's preparation
    # share one, which asks for C (session 1 lies before session 2's confirm request).
    assert "The texts as the patient will get them" in html
    assert "check-in + prep" in html
    assert "Reply C to confirm or R to change.</td>" in html
    assert "Touch-up session 1" in html
    assert html.count('class="text-row ') >= 10
    assert patients_count(app) == 0
    planned = to_json(
        app.clinic("test").preview(
            EnrolRequest(
                FORM["name"],
                FORM["phone"],
                FORM["timezone"],
                FORM["protocol"],
                FORM["first"],
                FORM["consent"],
            )
        )
    )

    saved = post(staff, "/enrol", FORM)
    assert saved.status_code == 303
    patient_id = int(saved.headers["location"].rsplit("/", 1)[1])
    page = staff.get(saved.headers["location"]).text
    assert "Enrolled; the course and its texts are planned." in page
    detail = to_json(app.clinic("test").show(patient_id))
    assert [(a["kind"], a["number"], a["starts_at"]) for a in planned["appointments"]] == [
        (a["kind"], a["number"], a["starts_at"]) for a in detail["appointments"]
    ]
    assert sorted((r["kind"], r["due_at"], r["status"], r["reason"]) for r in planned["reminders"]) == sorted(
        (r["kind"], r["due_at"], r["status"], r["reason"]) for r in detail["reminders"]
    )
    with UnitOfWork(app.database) as uow:
        actors = set(uow.db.scalars(select(AuditEntry.actor).where(AuditEntry.patient_id == patient_id)))
    assert actors == {f"user:{EMAIL}"}

    again = post(staff, "/enrol", FORM)  # the same number, still in care
    assert again.status_code == 400
    assert 'id="phone-error">a patient in care already has this phone number' in again.text


def test_change_details_goes_back_to_the_form_with_everything_kept(staff: TestClient) -> None:
    response = post(staff, "/enrol/edit", {**FORM, "interval": "35"})
    assert response.status_code == 200
    assert 'name="phone" type="tel" value="(201) 555-0123"' in response.text
    assert 'value="35"' in response.text
    assert 'id="phone-error"' not in response.text


# -- a patient's course ------------------------------------------------------------------------------


def test_each_action_on_the_patient_page_re_plans_the_texts(
    app: App, staff: TestClient, clock: FrozenClock
) -> None:
    detail = enrol(app)
    pid = detail["patient"]["id"]
    sessions = [a["id"] for a in detail["appointments"]]
    page = f"/patients/{pid}"
    prep_of = {r["appointment_id"]: r["id"] for r in detail["reminders"] if r["kind"] == "prep"}

    def act(path: str, data: dict[str, str] | None = None) -> str:
        response = post(staff, page + path, data)
        assert response.status_code == 303
        assert response.headers["location"] == page
        html: str = staff.get(page).text
        return html

    html = act(f"/sessions/{sessions[1]}/reschedule", {"when": "2026-03-12T15:30"})
    assert "Session moved; its texts are re-planned." in html
    assert "Thu 12 Mar 2026 15:30 EDT" in html
    assert reminders(app, pid)[prep_of[sessions[1]]] == ("cancelled", "rescheduled")

    act(f"/sessions/{sessions[2]}/cancel")
    assert reminders(app, pid)[prep_of[sessions[2]]] == ("cancelled", "appointment-cancelled")

    act("/pause")
    assert reminders(app, pid)[prep_of[sessions[3]]] == ("cancelled", "paused")
    act("/resume")
    assert reminders(app, pid)[prep_of[sessions[3]]] == ("pending", None)

    before = reminders(app, pid)
    html = act("/interval", {"days": "42"})
    assert "every 42 days" in html
    changed = {k for k, v in reminders(app, pid).items() if before.get(k) != v}
    assert changed, "changing the interval re-plans the touch-up's texts"

    clock.set(clock.now() + timedelta(days=6, hours=3))  # Mon 9 Mar 13:00 EDT: session 1 is over
    assert sign_in(staff, EMAIL, PASSWORD).status_code == 303  # a new day, a new sign-in
    html = act(f"/sessions/{sessions[0]}/outcome", {"outcome": "missed"})
    assert "on hold: missed-session" in html
    check_in = next(
        r["id"] for r in detail["reminders"] if r["kind"] == "check-in" and r["appointment_id"] == sessions[0]
    )
    assert reminders(app, pid)[check_in] == ("cancelled", "session-missed")
    html = act(f"/sessions/{sessions[0]}/outcome", {"outcome": "attended"})
    assert "on hold" not in html

    act("/discharge")
    assert "pending" not in {status for status, _ in reminders(app, pid).values()}
    assert reminders(app, pid)[prep_of[sessions[3]]] == ("cancelled", "discharged")
    with UnitOfWork(app.database) as uow:
        actions = list(
            uow.db.scalars(
                select(AuditEntry.action).where(AuditEntry.actor == f"user:{EMAIL}").order_by(AuditEntry.id)
            )
        )
    assert actions == [
        "reschedule", "cancel", "pause", "resume", "interval", "outcome-missed", "outcome-attended",
        "discharge",
    ]  # fmt: skip


def test_a_refused_change_is_a_message_on_the_page_and_changes_nothing(app: App, staff: TestClient) -> None:
    ana = enrol(app)
    bo = enrol(app, "Bo Chen", "(201) 555-0456")
    pid = ana["patient"]["id"]
    first = ana["appointments"][0]["id"]
    before = snapshot(app)
    attempts = [
        (f"/sessions/{first}/reschedule", {"when": "2026-03-01T10:00"}, "is in the past"),
        (f"/sessions/{first}/reschedule", {"when": "next tuesday"}, "is not a time like"),
        (
            f"/sessions/{first}/reschedule",
            {"when": "2026-03-11T10:00"},
            "already has a session on 2026-03-11",
        ),
        (
            f"/sessions/{bo['appointments'][0]['id']}/reschedule",
            {"when": "2026-03-20T10:00"},
            "has no session",
        ),
        (f"/sessions/{first}/outcome", {"outcome": "attended"}, "has not started yet"),
        (f"/sessions/{first}/outcome", {"outcome": "asleep"}, "outcome must be"),
        ("/interval", {"days": "7"}, "must be between 21 and 84 days"),
        ("/interval", {"days": "soon"}, "must be a whole number"),
    ]
    for path, data, message in attempts:
        response = post(staff, f"/patients/{pid}{path}", data)
        assert response.status_code == 303, path
        html = staff.get(response.headers["location"]).text
        assert 'class="flash problem"' in html, (path, data)
        assert message in html, (path, data)
    assert snapshot(app) == before
    missing = post(staff, "/patients/999/pause")
    assert missing.status_code == 303
    follow = staff.get(missing.headers["location"])
    assert follow.status_code == 404
    assert "no patient with id 999" in follow.text
