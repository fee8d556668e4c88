"""The JSON API under /api/v1, through the real app and a bearer token, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from sqlalchemy import func, select, update

from scheduler.app import App, build
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.services.api_tokens import ApiTokens
from scheduler.services.records import PatientFilter
from scheduler.store.models import ApiToken, Appointment, AuditEntry, Message, Patient, Reminder
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock, make_settings, utc

# The clock fixture stands at Tue 2026-03-03 09:00 in New York.
FIRST = "2026-03-09 10:00"  # a Monday; the induction series then falls on Mar 9, 11, 13, 16, 18, 20
ENROL: dict[str, Any] = {
    "name": "Ana Lima",
    "phone": "(201) 555-0123",
    "timezone": "America/New_York",
    "protocol": "iv-6x-mwf",
    "first": FIRST,
    "consent": "intake-form",
}


def _api_routes() -> list[tuple[str, str]]:
    """Every (method, path) under /api in the app's route table, read from a throwaway app."""
    built = build(make_settings("sqlite://", secret_key="collecting routes"), check=False)
    try:
        web = create_app(built)
        # Newer FastAPI keeps an included router as one entry; iter_route_contexts opens them up.
        flatten = getattr(fastapi.routing, "iter_route_contexts", iter)
        routes: list[Any] = list(flatten(web.routes))
        return sorted(
            (method, route.path)
            for route in routes
            if (route.path or "").startswith("/api")
            for method in route.methods or ()
        )
    finally:
        built.close()


API_ROUTES = _api_routes()

# A request each route would accept for the patient and session `seeded` makes, so that a route
# that forgot the token check would carry it out (or at least not answer 401).
GOOD_BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/patients"): None,
    ("POST", "/api/v1/patients"): {**ENROL, "phone": "+12015550199"},
    ("GET", "/api/v1/patients/{patient_id}"): None,
    ("GET", "/api/v1/patients/{patient_id}/replies"): None,
    ("POST", "/api/v1/patients/{patient_id}/pause"): None,
    ("POST", "/api/v1/patients/{patient_id}/resume"): None,
    ("POST", "/api/v1/patients/{patient_id}/discharge"): None,
    ("PUT", "/api/v1/patients/{patient_id}/interval"): {"days": 35},
    ("PUT", "/api/v1/patients/{patient_id}/phone"): {"phone": "(201) 555-0187"},
    ("POST", "/api/v1/appointments/{appointment_id}/reschedule"): {"when": "2026-03-10 15:30"},
    ("POST", "/api/v1/appointments/{appointment_id}/cancel"): None,
    ("POST", "/api/v1/appointments/{appointment_id}/outcome"): {"outcome": "missed"},
    ("PATCH", "/api/v1/patients/{patient_id}"): {"external_id": "MRN-1"},
    ("POST", "/api/v1/patients/{patient_id}/sessions"): {"when": "2026-03-10 15:30"},
    ("POST", "/api/v1/appointments/{appointment_id}/restore"): None,
    ("GET", "/api/v1/events"): None,
    ("GET", "/api/v1/reports/weekly"): None,
}
ROUTES_WITH_IDS = [route for route in API_ROUTES if "{" in route[1]]


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def token(app: App) -> str:
    return ApiTokens(app.database, app.clock).add("ehr")


@pytest.fixture
def anonymous(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as client:
        yield client


@pytest.fixture
def api(app: App, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def seeded(app: App, phone: str = "+12015550123", name: str = "Ana Lima") -> dict[str, Any]:
    """A patient enrolled through the services (not the API)."""
    request = EnrolRequest(name, phone, "America/New_York", "iv-6x-mwf", FIRST, "intake-form")
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(request))
    return detail


def state(app: App) -> dict[str, Any]:
    """Everything a request could change: row counts and every patient as `show` sees them."""
    with UnitOfWork(app.database) as uow:
        counts = {
            model.__tablename__: uow.db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Patient, Appointment, Reminder, Message, AuditEntry)
        }
        ids = list(uow.db.scalars(select(Patient.id).order_by(Patient.id)))
    clinic = app.clinic("test")
    return {"counts": counts, "patients": [to_json(clinic.show(i)) for i in ids]}


def url(path: str, detail: dict[str, Any]) -> str:
    return path.format(patient_id=detail["patient"]["id"], appointment_id=detail["appointments"][0]["id"])


def problem(response: Any) -> dict[str, Any]:
    """An error answer, checked to be a problem document (RFC 9457) on the way."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code, body
    assert body["type"].startswith("urn:reminders:problem:"), body
    assert body["title"], body
    assert body["detail"], body
    assert body["instance"] == response.request.url.path, body
    return body


def kind(response: Any) -> str:
    """The kind of problem: `not-found`, `conflict`, `validation`, ..."""
    return str(problem(response)["type"]).rsplit(":", 1)[1]


def errors(response: Any) -> list[tuple[list[str | int], str]]:
    """The (where, code) of every field problem in a 422 answer."""
    body = problem(response)
    assert all(e["detail"] for e in body["errors"]), body
    return [([e["location"], *e["field"].split(".")], e["code"]) for e in body["errors"]]


def audit_actors(app: App, action: str) -> list[str]:
    with UnitOfWork(app.database) as uow:
        return list(uow.db.scalars(select(AuditEntry.actor).where(AuditEntry.action == action)))


def by_id(detail: dict[str, Any], appointment_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in detail["appointments"] if a["id"] == appointment_id)
    return found


# -- the routes and their document --------------------------------------------------------------


def test_the_api_has_exactly_the_routes_these_tests_know() -> None:
    # A new route must be added to GOOD_BODIES, and so to the token and 404 tests below.
    assert set(API_ROUTES) == set(GOOD_BODIES)


def test_the_status_filter_documents_exactly_the_filters_the_cli_takes(anonymous: TestClient) -> None:
    document = anonymous.get("/openapi.json").json()
    [status] = [
        p for p in document["paths"]["/api/v1/patients"]["get"]["parameters"] if p["name"] == "status"
    ]
    schema = status["schema"]
    enum = document["components"]["schemas"][schema["anyOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"]
    assert enum == ["active", "paused", "discharged", "opted-out", "attention"] == list(PatientFilter)


def test_the_openapi_document_validates_and_lists_every_api_route_with_bearer_security(
    anonymous: TestClient,
) -> None:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    listed = sorted(
        (method.upper(), path) for path, operations in document["paths"].items() for method in operations
    )
    # Only the API is described: no webhooks, admin pages or health check.
    assert listed == API_ROUTES
    schemes = document["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    (scheme,) = schemes
    for method, path in API_ROUTES:
        operation = document["paths"][path][method.lower()]
        assert operation["security"] == [{scheme: []}], (method, path)
        assert "401" in operation["responses"], (method, path)
        assert operation["summary"], (method, path)
        assert operation["description"], (method, path)
    enrol = document["components"]["schemas"]["EnrolBody"]
    assert set(enrol["required"]) == {"name", "phone", "timezone", "first", "consent"}
    assert enrol["examples"]
    assert enrol["additionalProperties"] is False


# -- tokens -------------------------------------------------------------------------------------


def bad_credentials(token: str) -> dict[str, dict[str, str]]:
    return {
        "missing": {},
        "wrong": {"Authorization": "Bearer rmd_not-a-token-anyone-was-given"},
        "no-scheme": {"Authorization": token},
        "basic-scheme": {"Authorization": "Basic " + base64.b64encode(f"ehr:{token}".encode()).decode()},
        "scheme-only": {"Authorization": "Bearer"},
        "empty-token": {"Authorization": "Bearer    "},
        "token-with-extra": {"Authorization": f"Bearer {token}x"},
    }


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_a_request_without_a_live_token_is_refused_and_changes_nothing(
    app: App, anonymous: TestClient, token: str, method: str, path: str
) -> None:
    detail = seeded(app)
    before = state(app)
    for credential, headers in bad_credentials(token).items():
        response = anonymous.request(
            method, url(path, detail), json=GOOD_BODIES.get((method, path)), headers=headers
        )
        assert response.status_code == 401, credential
        assert response.headers["WWW-Authenticate"] == "Bearer", credential
        assert kind(response) == "unauthenticated", credential
    assert state(app) == before


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_a_revoked_token_is_refused(
    app: App, anonymous: TestClient, token: str, method: str, path: str
) -> None:
    detail = seeded(app)
    with UnitOfWork(app.database) as uow:
        uow.db.execute(update(ApiToken).values(revoked_at=utc(2026, 3, 1)))
        uow.commit()
    before = state(app)
    response = anonymous.request(
        method,
        url(path, detail),
        json=GOOD_BODIES[(method, path)],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert state(app) == before


def test_the_bearer_scheme_is_read_without_regard_to_case(
    app: App, anonymous: TestClient, token: str
) -> None:
    seeded(app)
    response = anonymous.get("/api/v1/patients", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["Ana Lima"]


# -- enrolment ----------------------------------------------------------------------------------


def test_enrolling_answers_201_with_the_shape_enrol_json_prints(app: App, api: TestClient) -> None:
    response = api.post("/api/v1/patients", json=ENROL)
    assert response.status_code == 201
    body = response.json()
    patient_id = body["patient"]["id"]
    assert response.headers["Location"] == f"/api/v1/patients/{patient_id}"
    # `reminders enrol --json` prints Clinic.enrol's answer, which is `show` without messages.
    assert body == to_json(app.clinic("test").detail(patient_id))
    assert body["patient"]["phone"] == "+12015550123"
    assert body["patient"]["touch_up_interval_days"] == 28
    first = body["appointments"][0]
    assert (first["kind"], first["number"], first["status"]) == ("induction", 1, "scheduled")
    assert first["starts_at"] == "2026-03-09T14:00:00+00:00"
    assert first["local_start"] == "2026-03-09T10:00:00-04:00"
    assert {r["kind"] for r in body["reminders"]} >= {"welcome", "prep"}


def test_enrolling_through_the_api_records_the_token_as_the_actor(app: App, api: TestClient) -> None:
    patient_id = api.post("/api/v1/patients", json=ENROL).json()["patient"]["id"]
    assert audit_actors(app, "enrol") == ["api:ehr"]
    api.post(f"/api/v1/patients/{patient_id}/pause")
    assert audit_actors(app, "pause") == ["api:ehr"]


def test_enrolling_takes_an_interval_and_defaults_to_the_clis_protocol(api: TestClient) -> None:
    body = {key: value for key, value in ENROL.items() if key != "protocol"}
    response = api.post("/api/v1/patients", json={**body, "interval_days": 35})
    assert response.status_code == 201
    patient = response.json()["patient"]
    assert (patient["protocol"], patient["touch_up_interval_days"]) == ("iv-6x-mwf", 35)


def test_a_patient_enrolled_in_spanish_is_shown_with_their_language(api: TestClient) -> None:
    created = api.post("/api/v1/patients", json={**ENROL, "language": "es"})
    assert created.status_code == 201
    assert created.json()["patient"]["language"] == "es"
    assert (
        api.post("/api/v1/patients", json={**ENROL, "phone": "+12015550177"}).json()["patient"]["language"]
        == "en"
    )


@pytest.mark.parametrize(
    "name",
    ['Zoë "Zed" O\'Neil', "Ana 🌻 Lima", "<b>Ana</b> & Co; DROP TABLE patients;--", "李小龍", "a" * 100],
)
def test_names_with_quotes_and_emoji_round_trip(api: TestClient, name: str) -> None:
    created = api.post("/api/v1/patients", json={**ENROL, "name": name})
    assert created.status_code == 201
    patient_id = created.json()["patient"]["id"]
    assert api.get(f"/api/v1/patients/{patient_id}").json()["patient"]["name"] == name
    assert [p["name"] for p in api.get("/api/v1/patients").json()["items"]] == [name]


BAD_ENROLMENTS: list[tuple[str, dict[str, Any], list[Any], str]] = [
    ("not-a-number", {"phone": "555-01"}, ["body", "phone"], "value_error"),
    ("invalid-number", {"phone": "+1 201 000 0000"}, ["body", "phone"], "value_error"),
    ("empty-phone", {"phone": "  "}, ["body", "phone"], "value_error"),
    ("unknown-timezone", {"timezone": "Mars/Olympus_Mons"}, ["body", "timezone"], "value_error"),
    ("timezone-abbreviation", {"timezone": "EST"}, ["body", "timezone"], "value_error"),
    ("unknown-protocol", {"protocol": "iv-99x"}, ["body", "protocol"], "value_error"),
    ("first-in-the-past", {"first": "2026-03-02 10:00"}, ["body", "first"], "value_error"),
    ("first-a-minute-ago", {"first": "2026-03-03 08:59"}, ["body", "first"], "value_error"),
    ("first-too-far-ahead", {"first": "2027-04-01 10:00"}, ["body", "first"], "value_error"),
    ("first-malformed", {"first": "next Monday"}, ["body", "first"], "string_pattern_mismatch"),
    ("first-not-a-date", {"first": "2026-02-30 10:00"}, ["body", "first"], "value_error"),
    ("blank-name", {"name": "   "}, ["body", "name"], "value_error"),
    ("long-name", {"name": "a" * 101}, ["body", "name"], "value_error"),
    ("control-in-name", {"name": "Ana\x00Lima"}, ["body", "name"], "value_error"),
    ("blank-consent", {"consent": ""}, ["body", "consent"], "value_error"),
    ("interval-too-short", {"interval_days": 5}, ["body", "interval_days"], "value_error"),
    ("interval-too-long", {"interval_days": 365}, ["body", "interval_days"], "value_error"),
    ("interval-not-a-number", {"interval_days": "monthly"}, ["body", "interval_days"], "int_type"),
    ("name-not-a-string", {"name": 42}, ["body", "name"], "string_type"),
    ("unknown-field", {"timezone_name": "America/New_York"}, ["body", "timezone_name"], "extra_forbidden"),
    ("unknown-language", {"language": "fr"}, ["body", "language"], "enum"),
]


@pytest.mark.parametrize(
    ("changes", "loc", "kind"),
    [pytest.param(c, loc, kind, id=case) for case, c, loc, kind in BAD_ENROLMENTS],
)
def test_bad_enrolment_is_422_naming_the_field_and_writes_nothing(
    app: App, api: TestClient, changes: dict[str, Any], loc: list[Any], kind: str
) -> None:
    before = state(app)
    response = api.post("/api/v1/patients", json={**ENROL, **changes})
    assert response.status_code == 422, response.text
    assert (loc, kind) in errors(response)
    assert state(app) == before


@pytest.mark.parametrize("field", ["name", "phone", "timezone", "first", "consent"])
def test_enrolment_without_a_required_field_is_422_naming_it(app: App, api: TestClient, field: str) -> None:
    before = state(app)
    response = api.post("/api/v1/patients", json={k: v for k, v in ENROL.items() if k != field})
    assert response.status_code == 422
    assert errors(response) == [(["body", field], "missing")]
    assert state(app) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"name": "Ana', b'{"name": "Ana\\ud800 Lima"}'],
    ids=["empty", "not-json", "a-list", "truncated", "unpaired-surrogate"],
)
def test_an_unreadable_body_is_400_or_422_and_writes_nothing(
    app: App, api: TestClient, content: bytes
) -> None:
    before = state(app)
    response = api.post("/api/v1/patients", content=content, headers={"Content-Type": "application/json"})
    if content in (b"not json", b'{"name": "Ana'):
        assert (response.status_code, kind(response)) == (400, "malformed")
    else:
        assert response.status_code == 422
        assert errors(response)
    assert state(app) == before


def test_a_lone_surrogate_in_a_name_is_422_naming_the_field(app: App, api: TestClient) -> None:
    before = state(app)
    body = (
        b'{"name": "Ana \\ud83c Lima", "phone": "+12015550123", "timezone": "America/New_York",'
        b' "first": "2026-03-09 10:00", "consent": "intake-form"}'
    )
    response = api.post("/api/v1/patients", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert errors(response) == [(["body", "name"], "value_error")]
    assert state(app) == before


@pytest.mark.parametrize("phone", ["+12015550123", "(201) 555-0123", "201.555.0123"])
def test_a_number_a_patient_in_care_has_is_409_naming_the_phone_and_writes_nothing(
    app: App, api: TestClient, phone: str
) -> None:
    holder = seeded(app)["patient"]["id"]
    before = state(app)
    response = api.post("/api/v1/patients", json={**ENROL, "name": "Someone Else", "phone": phone})
    assert response.status_code == 409
    assert kind(response) == "conflict"
    assert response.json()["patient_id"] == holder
    assert response.headers["Location"] == f"/api/v1/patients/{holder}"
    assert state(app) == before


def test_a_discharged_patients_number_can_be_enrolled_again(app: App, api: TestClient) -> None:
    detail = seeded(app)
    assert api.post(f"/api/v1/patients/{detail['patient']['id']}/discharge").status_code == 200
    assert api.post("/api/v1/patients", json=ENROL).status_code == 201


# -- reading ------------------------------------------------------------------------------------


def test_patients_are_listed_and_filtered_by_status(app: App, api: TestClient) -> None:
    ana = seeded(app)["patient"]["id"]
    ben = seeded(app, phone="+12015550124", name="Ben Okafor")["patient"]["id"]
    api.post(f"/api/v1/patients/{ben}/pause")
    everyone = api.get("/api/v1/patients")
    assert everyone.status_code == 200
    assert everyone.json() == {
        "items": to_json(app.clinic("test").patients()),
        "next_cursor": None,
        "next": None,
    }

    def ids(**params: str) -> list[int]:
        return [p["id"] for p in api.get("/api/v1/patients", params=params).json()["items"]]

    assert ids() == [ana, ben]
    assert ids(status="active") == [ana]
    assert ids(status="paused") == [ben]
    assert ids(status="opted-out") == []


def test_an_unknown_status_filter_is_422_naming_the_parameter(api: TestClient) -> None:
    response = api.get("/api/v1/patients", params={"status": "asleep"})
    assert response.status_code == 422
    assert errors(response) == [(["query", "status"], "enum")]


def test_a_patient_is_shown_with_messages_as_show_json_prints(app: App, api: TestClient) -> None:
    patient_id = seeded(app)["patient"]["id"]
    response = api.get(f"/api/v1/patients/{patient_id}")
    assert response.status_code == 200
    assert response.json() == to_json(app.clinic("test").show(patient_id))
    assert response.json()["messages"] == []


# -- changes ------------------------------------------------------------------------------------


def test_a_session_is_rescheduled_and_its_texts_replanned(app: App, api: TestClient) -> None:
    detail = seeded(app)
    session = detail["appointments"][0]["id"]
    old_texts = {r["id"] for r in detail["reminders"] if r["appointment_id"] == session}
    response = api.post(f"/api/v1/appointments/{session}/reschedule", json={"when": "2026-03-10 15:30"})
    assert response.status_code == 200
    body = response.json()
    # Session 2 is the next morning: accepted, with a warning.
    assert body["warnings"] == ["it is less than a day before session 2 (2026-03-11 10:00)"]
    assert body == {
        **to_json(app.clinic("test").detail(detail["patient"]["id"])),
        "warnings": body["warnings"],
    }
    moved = by_id(body, session)
    assert (moved["local_start"], moved["status"]) == ("2026-03-10T15:30:00-04:00", "scheduled")
    statuses = {r["id"]: r["status"] for r in body["reminders"]}
    assert {statuses[i] for i in old_texts} == {"cancelled"}
    assert audit_actors(app, "reschedule") == ["api:ehr"]


@pytest.mark.parametrize(
    ("when", "status", "loc"),
    [
        ("2026-03-02 10:00", 422, ["body", "when"]),  # in the past
        ("tomorrow", 422, ["body", "when"]),
        ("2026-13-01 10:00", 422, ["body", "when"]),
        ("2026-03-11 15:00", 409, ["body", "when"]),  # the second session is that day
    ],
    ids=["past", "malformed", "no-such-month", "day-with-a-session"],
)
def test_a_bad_reschedule_is_refused_and_changes_nothing(
    app: App, api: TestClient, when: str, status: int, loc: list[str]
) -> None:
    session = seeded(app)["appointments"][0]["id"]
    before = state(app)
    response = api.post(f"/api/v1/appointments/{session}/reschedule", json={"when": when})
    assert response.status_code == status
    assert [loc for loc, _ in errors(response)] == [loc]
    assert state(app) == before


def test_a_session_is_cancelled_with_its_texts(app: App, api: TestClient) -> None:
    detail = seeded(app)
    session = detail["appointments"][1]["id"]
    response = api.post(f"/api/v1/appointments/{session}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert by_id(body, session)["status"] == "cancelled"
    texts = [r for r in body["reminders"] if r["appointment_id"] == session]
    assert {r["status"] for r in texts if r["kind"] != "notice"} == {"cancelled"}
    assert [r["status"] for r in texts if r["kind"] == "notice"] == ["pending"]  # tells the patient
    again = api.post(f"/api/v1/appointments/{session}/cancel")
    assert again.status_code == 409
    assert kind(again) == "conflict"


def test_an_outcome_is_recorded_once_the_session_has_started(
    app: App, api: TestClient, clock: FrozenClock
) -> None:
    detail = seeded(app)
    first, second = detail["appointments"][0]["id"], detail["appointments"][1]["id"]
    clock.set(utc(2026, 3, 11, 18, 0))  # after the second session
    attended = api.post(f"/api/v1/appointments/{first}/outcome", json={"outcome": "attended"})
    assert attended.status_code == 200
    assert by_id(attended.json(), first)["status"] == "attended"
    missed = api.post(f"/api/v1/appointments/{second}/outcome", json={"outcome": "missed"})
    assert missed.status_code == 200
    assert by_id(missed.json(), second)["status"] == "missed"
    assert missed.json()["patient"]["attention"] == "missed-session"
    assert audit_actors(app, "outcome-missed") == ["api:ehr"]


def test_an_outcome_for_a_session_not_yet_started_is_409_and_changes_nothing(
    app: App, api: TestClient
) -> None:
    session = seeded(app)["appointments"][0]["id"]
    before = state(app)
    response = api.post(f"/api/v1/appointments/{session}/outcome", json={"outcome": "attended"})
    assert response.status_code == 409
    assert kind(response) == "conflict"
    assert state(app) == before


@pytest.mark.parametrize("outcome", ["came", "", None, "ATTENDED"])
def test_an_outcome_other_than_attended_or_missed_is_422(
    app: App, api: TestClient, clock: FrozenClock, outcome: str | None
) -> None:
    session = seeded(app)["appointments"][0]["id"]
    clock.set(utc(2026, 3, 9, 18, 0))
    before = state(app)
    response = api.post(f"/api/v1/appointments/{session}/outcome", json={"outcome": outcome})
    assert response.status_code == 422
    assert [loc for loc, _ in errors(response)] == [["body", "outcome"]]
    assert state(app) == before


def test_a_patient_is_paused_resumed_and_discharged(app: App, api: TestClient) -> None:
    patient_id = seeded(app)["patient"]["id"]
    paused = api.post(f"/api/v1/patients/{patient_id}/pause")
    assert paused.status_code == 200
    assert paused.json()["patient"]["status"] == "paused"
    assert "pending" not in {r["status"] for r in paused.json()["reminders"]}
    resumed = api.post(f"/api/v1/patients/{patient_id}/resume")
    assert resumed.status_code == 200
    assert resumed.json()["patient"]["status"] == "active"
    assert "pending" in {r["status"] for r in resumed.json()["reminders"]}
    discharged = api.post(f"/api/v1/patients/{patient_id}/discharge")
    assert discharged.status_code == 200
    body = discharged.json()
    assert body == to_json(app.clinic("test").detail(patient_id))
    assert body["patient"]["status"] == "discharged"
    assert {a["status"] for a in body["appointments"]} == {"cancelled"}
    assert [audit_actors(app, a) for a in ("pause", "resume", "discharge")] == [["api:ehr"]] * 3


@pytest.mark.parametrize(
    ("setup", "action"),
    [("pause", "pause"), ("discharge", "discharge"), ("discharge", "resume"), ("discharge", "pause")],
    ids=[
        "pause-a-paused-patient",
        "discharge-twice",
        "resume-a-discharged-patient",
        "pause-a-discharged-one",
    ],
)
def test_a_status_change_the_patient_is_not_in_a_state_for_is_409_and_changes_nothing(
    app: App, api: TestClient, setup: str, action: str
) -> None:
    patient_id = seeded(app)["patient"]["id"]
    assert api.post(f"/api/v1/patients/{patient_id}/{setup}").status_code == 200
    before = state(app)
    response = api.post(f"/api/v1/patients/{patient_id}/{action}")
    assert response.status_code == 409
    assert kind(response) == "conflict"
    assert state(app) == before


def test_the_touch_up_interval_is_set(app: App, api: TestClient) -> None:
    patient_id = seeded(app)["patient"]["id"]
    response = api.put(f"/api/v1/patients/{patient_id}/interval", json={"days": 42})
    assert response.status_code == 200
    body = response.json()
    assert body["patient"]["touch_up_interval_days"] == 42
    assert body == to_json(app.clinic("test").detail(patient_id))
    assert audit_actors(app, "interval") == ["api:ehr"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [({"days": 5}, "value_error"), ({"days": 400}, "value_error"), ({"days": "often"}, "int_type"),
     ({}, "missing")],
    ids=["too-short", "too-long", "not-a-number", "missing"],
)  # fmt: skip
def test_a_bad_interval_is_422_naming_days_and_changes_nothing(
    app: App, api: TestClient, body: dict[str, Any], kind: str
) -> None:
    patient_id = seeded(app)["patient"]["id"]
    before = state(app)
    response = api.put(f"/api/v1/patients/{patient_id}/interval", json=body)
    assert response.status_code == 422
    assert errors(response) == [(["body", "days"], kind)]
    assert state(app) == before


def test_the_interval_of_a_discharged_patient_is_409(app: App, api: TestClient) -> None:
    patient_id = seeded(app)["patient"]["id"]
    api.post(f"/api/v1/patients/{patient_id}/discharge")
    before = state(app)
    response = api.put(f"/api/v1/patients/{patient_id}/interval", json={"days": 35})
    assert response.status_code == 409
    assert state(app) == before


# -- unknown ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_IDS)
def test_an_unknown_id_is_404_naming_the_parameter_and_changes_nothing(
    app: App, api: TestClient, method: str, path: str
) -> None:
    seeded(app)
    before = state(app)
    target = path.format(patient_id=999, appointment_id=999)
    response = api.request(method, target, json=GOOD_BODIES[(method, path)])
    assert response.status_code == 404
    assert kind(response) == "not-found"
    assert state(app) == before


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_IDS)
def test_an_id_that_cannot_name_a_record_is_422_and_changes_nothing(
    app: App, api: TestClient, method: str, path: str
) -> None:
    seeded(app)
    before = state(app)
    for value in ["0", "-1", "2147483648", "99999999999999999999999", "1.5", "abc"]:
        target = path.replace("{patient_id}", value).replace("{appointment_id}", value)
        response = api.request(method, target, json=GOOD_BODIES[(method, path)])
        assert response.status_code == 422, value
        assert [loc[0] for loc, _ in errors(response)] == ["path"], value
    assert state(app) == before


def test_a_new_number_is_taken_and_a_bad_one_is_422(app: App, api: TestClient) -> None:
    patient_id = seeded(app)["patient"]["id"]
    response = api.put(f"/api/v1/patients/{patient_id}/phone", json={"phone": "(201) 555-0187"})
    assert response.status_code == 200
    assert response.json()["patient"]["phone"] == "+12015550187"
    assert audit_actors(app, "change-phone") == ["api:ehr"]
    bad = api.put(f"/api/v1/patients/{patient_id}/phone", json={"phone": "12345"})
    assert bad.status_code == 422
    assert [loc for loc, _ in errors(bad)] == [["body", "phone"]]


# -- corrections ------------------------------------------------------------------------------------


def test_a_patient_is_corrected_with_patch_and_only_the_fields_sent_change(api: TestClient) -> None:
    created = api.post("/api/v1/patients", json=ENROL).json()
    pid = created["patient"]["id"]
    edited = api.patch(
        f"/api/v1/patients/{pid}", json={"external_id": "MRN-77", "timezone": "America/Chicago"}
    )
    assert edited.status_code == 200, edited.text
    patient = edited.json()["patient"]
    assert (patient["external_id"], patient["timezone"], patient["name"]) == (
        "MRN-77",
        "America/Chicago",
        ENROL["name"],
    )
    assert [a["local_start"][:16] for a in edited.json()["appointments"]] == [
        a["local_start"][:16] for a in created["appointments"]
    ]
    found = api.get("/api/v1/patients", params={"q": "mrn-77"}).json()["items"]
    assert [p["id"] for p in found] == [pid]


def test_a_bad_correction_names_every_field_and_writes_nothing(app: App, api: TestClient) -> None:
    pid = api.post("/api/v1/patients", json=ENROL).json()["patient"]["id"]
    before = state(app)
    answer = api.patch(
        f"/api/v1/patients/{pid}", json={"timezone": "EST", "protocol": "esk-trd", "language": "fr"}
    )
    assert answer.status_code == 422
    assert {tuple(loc) for loc, _ in errors(answer)} >= {("body", "language")}
    answer = api.patch(f"/api/v1/patients/{pid}", json={"timezone": "EST", "protocol": "esk-trd"})
    assert {tuple(loc) for loc, _ in errors(answer)} == {("body", "timezone"), ("body", "from")}
    assert state(app) == before


def test_a_session_is_added_and_a_cancelled_one_restored(api: TestClient) -> None:
    created = api.post("/api/v1/patients", json=ENROL).json()
    pid, third = created["patient"]["id"], created["appointments"][2]["id"]
    added = api.post(f"/api/v1/patients/{pid}/sessions", json={"when": "2026-03-10T15:00:00-04:00"})
    assert added.status_code == 201, added.text
    assert len(added.json()["appointments"]) == len(created["appointments"]) + 1
    assert api.post(f"/api/v1/appointments/{third}/cancel").status_code == 200
    restored = api.post(f"/api/v1/appointments/{third}/restore")
    assert restored.status_code == 200
    assert next(a for a in restored.json()["appointments"] if a["id"] == third)["status"] == "scheduled"
    again = api.post(f"/api/v1/appointments/{third}/restore")
    assert again.status_code == 409
