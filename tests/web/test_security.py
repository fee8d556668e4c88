"""What a security review checks, through a test client on SQLite and PostgreSQL: sessions that end
(sign-out, password change, disabling, idle and absolute limits), sign-in that cannot be used to
lock staff out, admin-only account and token management, request limits before any parsing, and
the headers every answer carries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from scheduler.app import App
from scheduler.errors import SignInRefused
from scheduler.services import EnrolRequest
from scheduler.services.accounts import FREE_ATTEMPTS, Accounts
from scheduler.services.api_tokens import ApiTokens
from scheduler.store.models import Patient, Reply
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock
from tests.support.staff_client import csrf_of, flat_routes, post, sign_in

STAFF = "nurse@example.org"
ADMIN = "lead@example.org"
PASSWORD = "correct horse battery"
SITE = "https://reminders.example.org"


@pytest.fixture
def accounts(app: App) -> Accounts:
    made = Accounts(app.database, app.clock)
    made.add_user(STAFF, PASSWORD)
    made.add_user(ADMIN, PASSWORD, admin=True)
    return made


@pytest.fixture
def browsers(app: App, accounts: Accounts) -> Iterator[list[TestClient]]:
    """Test clients of one app; open more with `browsers.append(...)`-style helpers below."""
    web = create_app(app)
    opened: list[TestClient] = []
    with TestClient(web, base_url=SITE) as first:
        opened.append(first)
        yield opened
    for client in opened[1:]:
        client.close()


def another(browsers: list[TestClient], address: str = "testclient") -> TestClient:
    client = TestClient(browsers[0].app, base_url=SITE, client=(address, 50000))
    browsers.append(client)
    return client


def signed_in(browsers: list[TestClient], email: str, password: str = PASSWORD) -> TestClient:
    client = another(browsers)
    assert sign_in(client, email, password).status_code == 303
    return client


def can_read_patients(client: TestClient) -> bool:
    answer = client.get("/patients", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.status_code
    return bool(answer.status_code == 200)


def patient_statuses(app: App) -> list[str]:
    with UnitOfWork(app.database) as uow:
        return [str(status) for status in uow.db.scalars(select(Patient.status).order_by(Patient.id))]


# -- sessions ------------------------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: App, browsers: list[TestClient]) -> None:
    request = EnrolRequest(
        "Ana Lima", "(201) 555-0123", "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form"
    )
    patient = app.clinic("test").enrol(request).patient.id
    nurse = signed_in(browsers, STAFF)
    csrf = csrf_of(nurse.get("/enrol").text)
    copied = dict(nurse.cookies.items())
    assert post(nurse, "/logout").headers["location"] == "/login"

    thief = another(browsers)
    thief.cookies.update(copied)
    assert not can_read_patients(thief)
    # Nor can it act: the same cookie and form token that worked a moment ago.
    thief.post(f"/patients/{patient}/pause", data={"csrf": csrf}, follow_redirects=False)
    assert patient_statuses(app) == ["active"]


def test_a_password_change_ends_every_other_session_and_the_old_password(browsers: list[TestClient]) -> None:
    desk, office = signed_in(browsers, STAFF), signed_in(browsers, STAFF)
    new = "a brand new passphrase"
    changed = post(desk, "/password", {"current": PASSWORD, "new": new, "again": new}, page="/password")
    assert changed.status_code == 303
    assert can_read_patients(desk)  # the browser that changed it goes on
    assert not can_read_patients(office)
    assert sign_in(another(browsers), STAFF, PASSWORD).status_code == 401
    assert sign_in(another(browsers), STAFF, new).status_code == 303


def test_a_session_ends_when_idle_and_at_its_absolute_end(
    app: App, browsers: list[TestClient], clock: FrozenClock
) -> None:
    idle = timedelta(minutes=app.settings.session_idle_minutes)
    nurse = signed_in(browsers, STAFF)
    clock.advance(idle + timedelta(minutes=1))
    assert not can_read_patients(nurse)

    busy = signed_in(browsers, STAFF)
    began = clock.now()
    while clock.now() - began < timedelta(hours=app.settings.session_max_hours) - idle:
        clock.advance(idle - timedelta(minutes=5))
        assert can_read_patients(busy), clock.now() - began
    clock.advance(idle - timedelta(minutes=5))
    assert not can_read_patients(busy)  # however busy, a sign-in ends after SESSION_MAX_HOURS


# -- accounts and tokens ---------------------------------------------------------------------------


def test_a_disabled_users_open_session_is_refused_and_they_cannot_sign_in(browsers: list[TestClient]) -> None:
    nurse = signed_in(browsers, STAFF)
    lead = signed_in(browsers, ADMIN)
    assert post(lead, "/staff/accounts/disable", {"email": STAFF}).status_code == 303
    assert "disabled" in lead.get("/staff").text
    assert not can_read_patients(nurse)
    refused = sign_in(another(browsers), STAFF, PASSWORD)
    assert refused.status_code == 401
    assert "disabled" in refused.text

    assert post(lead, "/staff/accounts/enable", {"email": STAFF}).status_code == 303
    assert sign_in(another(browsers), STAFF, PASSWORD).status_code == 303


def test_only_an_admin_reaches_the_staff_page_or_manages_accounts_and_tokens(
    app: App, accounts: Accounts, browsers: list[TestClient]
) -> None:
    nurse = signed_in(browsers, STAFF)
    assert nurse.get("/staff").status_code == 403
    assert "Staff" not in re.sub(r"<title>.*?</title>", "", nurse.get("/").text).split("<main")[0]
    for path, data in (
        ("/staff/accounts", {"email": "new@example.org", "admin": "yes"}),
        ("/staff/accounts/reset", {"email": ADMIN}),
        ("/staff/accounts/disable", {"email": ADMIN}),
        ("/staff/tokens", {"name": "mine"}),
    ):
        assert post(nurse, path, data).status_code == 403, path
    assert [a.email for a in accounts.list_users()] == [ADMIN, STAFF]
    assert not any(a.disabled or a.must_change_password for a in accounts.list_users())
    assert ApiTokens(app.database, app.clock).list() == []


def test_an_admin_adds_an_account_whose_shown_password_must_be_replaced(browsers: list[TestClient]) -> None:
    lead = signed_in(browsers, ADMIN)
    page = post(lead, "/staff/accounts", {"email": "New.Nurse@Example.org"}).text
    shown = re.search(r"<code>([^<]+)</code>", page)
    assert shown is not None
    newcomer = another(browsers)
    assert (
        sign_in(newcomer, "new.nurse@example.org", shown.group(1)).headers["location"].startswith("/password")
    )
    # Until they choose their own password, every page sends them to choose one.
    assert newcomer.get("/patients", follow_redirects=False).headers["location"].startswith("/password")
    mine = "my own long password"
    answer = post(
        newcomer, "/password", {"current": shown.group(1), "new": mine, "again": mine}, page="/password"
    )
    assert answer.status_code == 303
    assert can_read_patients(newcomer)
    assert sign_in(another(browsers), "new.nurse@example.org", shown.group(1)).status_code == 401


def test_a_reset_ends_the_users_sessions_and_gives_a_one_time_password(browsers: list[TestClient]) -> None:
    nurse = signed_in(browsers, STAFF)
    lead = signed_in(browsers, ADMIN)
    page = post(lead, "/staff/accounts/reset", {"email": STAFF}).text
    shown = re.search(r"<code>([^<]+)</code>", page)
    assert shown is not None
    assert not can_read_patients(nurse)
    assert sign_in(another(browsers), STAFF, PASSWORD).status_code == 401
    fresh = another(browsers)
    assert sign_in(fresh, STAFF, shown.group(1)).headers["location"].startswith("/password")


def test_an_admin_creates_a_token_that_works_until_it_is_revoked(browsers: list[TestClient]) -> None:
    lead = signed_in(browsers, ADMIN)
    page = post(lead, "/staff/tokens", {"name": "ehr"}).text
    shown = re.search(r"<code>(rmd_[^<]+)</code>", page)
    assert shown is not None
    api = another(browsers)
    bearer = {"Authorization": f"Bearer {shown.group(1)}"}
    assert api.get("/api/v1/patients", headers=bearer).status_code == 200
    assert shown.group(1) not in lead.get("/staff").text  # shown once, never again

    assert post(lead, "/staff/tokens/revoke", {"name": "ehr"}).status_code == 303
    refused = api.get("/api/v1/patients", headers=bearer)
    assert refused.status_code == 401
    assert "revoked" in lead.get("/staff").text


# -- sign-in ----------------------------------------------------------------------------------------


def test_an_outsider_cannot_lock_a_staff_member_out(accounts: Accounts) -> None:
    for _ in range(FREE_ATTEMPTS * 3):
        with pytest.raises(SignInRefused):
            accounts.sign_in(STAFF, "a guess", "203.0.113.9")
    with pytest.raises(SignInRefused, match="too many attempts"):
        accounts.sign_in(STAFF, PASSWORD, "203.0.113.9")  # the guesser's address is slowed down
    assert accounts.sign_in(STAFF, PASSWORD, "198.51.100.7").email == STAFF  # the nurse is not


def test_throttling_is_shared_by_every_web_process(app: App, accounts: Accounts) -> None:
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(SignInRefused):
            accounts.sign_in(STAFF, "a guess", "203.0.113.9")
    other_process = Accounts(app.database, app.clock)
    with pytest.raises(SignInRefused, match="too many attempts"):
        other_process.sign_in(STAFF, PASSWORD, "203.0.113.9")


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(browsers: list[TestClient]) -> None:
    wrong = sign_in(another(browsers), STAFF, "not the password")
    unknown = sign_in(another(browsers), "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert re.sub(r"value=\"[^\"]*\"", "", wrong.text).replace(STAFF, "") == re.sub(
        r"value=\"[^\"]*\"", "", unknown.text
    ).replace("nobody@example.org", "")


# -- request limits ----------------------------------------------------------------------------------


def replies_stored(app: App) -> int:
    with UnitOfWork(app.database) as uow:
        return uow.db.scalar(select(func.count()).select_from(Reply)) or 0


def test_a_webhook_takes_only_a_small_urlencoded_body(app: App, browsers: list[TestClient]) -> None:
    twilio = browsers[0]
    upload = twilio.post("/twilio/inbound", files={"file": ("a.bin", b"x" * 1000)})
    assert upload.status_code == 415
    large = twilio.post(
        "/twilio/inbound",
        content=b"Body=" + b"x" * (65 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert large.status_code == 413

    def stream() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"Body="
        for _ in range(100):
            yield b"y" * 1024

    chunked = twilio.post(
        "/twilio/inbound", content=stream(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    assert replies_stored(app) == 0


def test_sign_in_and_every_form_but_the_import_refuse_files(browsers: list[TestClient]) -> None:
    visitor = another(browsers)
    csrf = csrf_of(visitor.get("/login").text)
    upload = visitor.post(
        "/login", data={"csrf": csrf, "email": STAFF, "password": PASSWORD}, files={"f": ("a.txt", b"x")}
    )
    assert upload.status_code == 415
    nurse = signed_in(browsers, STAFF)
    csrf = csrf_of(nurse.get("/enrol").text)
    assert nurse.post("/enrol", data={"csrf": csrf}, files={"f": ("a.txt", b"x")}).status_code == 415


def test_the_csv_import_states_its_size_cap_and_refuses_a_larger_file(browsers: list[TestClient]) -> None:
    nurse = signed_in(browsers, STAFF)
    page = nurse.get("/import").text
    cap = re.search(r"up to (\d+) MB", page)
    assert cap is not None
    csrf = csrf_of(page)
    too_big = b"name,phone,timezone,protocol,first,consent\n" + b"x" * (
        int(cap.group(1)) * 1024 * 1024 + 70_000
    )
    answer = nurse.post("/import", data={"csrf": csrf}, files={"file": ("big.csv", too_big, "text/csv")})
    assert answer.status_code == 413


def test_the_api_refuses_a_body_that_is_not_json_or_too_large(app: App, browsers: list[TestClient]) -> None:
    token = ApiTokens(app.database, app.clock).add("ehr")
    api = another(browsers)
    bearer = {"Authorization": f"Bearer {token}"}
    form = api.post("/api/v1/patients", data={"name": "Ana"}, headers=bearer)
    assert form.status_code == 415
    large = api.post(
        "/api/v1/patients",
        content=b'{"name": "' + b"x" * (300 * 1024) + b'"}',
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert large.status_code == 413


# -- headers --------------------------------------------------------------------------------------


def expect_security_headers(path: str, answer: object) -> None:
    headers = getattr(answer, "headers")  # noqa: B009 - an httpx.Response
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, path
    assert "default-src 'none'" in csp, path  # and no script-src: no script runs at all
    assert "unsafe-inline" not in csp, path
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "no-referrer", path
    if not path.startswith("/static/"):
        assert headers.get("cache-control") == "no-store", path


def test_every_route_answers_with_the_security_headers(app: App, browsers: list[TestClient]) -> None:
    token = ApiTokens(app.database, app.clock).add("ehr")
    lead = signed_in(browsers, ADMIN)
    stranger = another(browsers)
    routes = list(flat_routes(create_app(app).routes))
    assert len(routes) > 20
    for template, route in routes:
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in sorted(route.methods or ()):
            for client in (lead, stranger):
                answer = client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
                )
                expect_security_headers(f"{method} {path}", answer)
    for path in ("/static/style.css", "/no-such-page", "/healthz", "/metrics"):
        expect_security_headers(path, stranger.get(path))
    too_large = stranger.post(
        "/login", content=b"x" * 70_000, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert too_large.status_code == 413
    expect_security_headers("413", too_large)


def test_links_never_copy_the_host_header(browsers: list[TestClient]) -> None:
    visitor = another(browsers)
    page = visitor.get("/login", headers={"Host": "evil.example"})
    assert page.status_code == 200
    assert "evil.example" not in page.text
    asked = visitor.get("/patients", headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil.example" not in asked.headers["location"]


def test_allowed_hosts_refuses_other_host_names(app: App, accounts: Accounts) -> None:
    strict = replace(app, settings=replace(app.settings, allowed_hosts=("reminders.example.org",)))
    with TestClient(create_app(strict), base_url=SITE) as client:
        assert client.get("/login").status_code == 200
        refused = client.get("/login", headers={"Host": "evil.example"})
        assert refused.status_code == 400
        expect_security_headers("bad host", refused)
