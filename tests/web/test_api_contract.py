"""What an EHR relies on: safe retries, pages that skip and repeat nothing, changes since a time,
a rate limit, and answers that agree with each other, through the real app on both databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from scheduler.app import App
from scheduler.services.api_tokens import ApiTokens
from scheduler.services.replies import Replies
from scheduler.store.models import Patient
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import FrozenClock
from tests.web.test_api import ENROL, errors, kind, state

ENROLMENT = {**ENROL, "external_id": "MRN-100"}


@pytest.fixture
def token(app: App) -> str:
    return ApiTokens(app.database, app.clock).add("ehr")


@pytest.fixture
def api(app: App, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def patients(app: App) -> int:
    with UnitOfWork(app.database) as uow:
        return uow.db.scalar(select(func.count()).select_from(Patient)) or 0


def import_patients(app: App, numbers: range) -> None:
    rows = ["name,phone,timezone,protocol,first,consent,external_id"]
    rows += [
        f"Patient {n:03d},(201) 555-{n:04d},America/New_York,,2026-03-09 10:00,intake,MRN-{n}"
        for n in numbers
    ]
    report = app.clinic("test:seed").import_csv("\n".join(rows) + "\n")
    assert report.ok, report


# -- Idempotency-Key ----------------------------------------------------------------------------


def test_the_same_enrolment_twice_with_one_key_makes_one_patient_and_the_same_answer(
    app: App, api: TestClient
) -> None:
    first = api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "enrol-ana-1"})
    again = api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "enrol-ana-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert patients(app) == 1


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(app: App, api: TestClient) -> None:
    api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-1"})
    before = state(app)
    other = {**ENROLMENT, "phone": "(201) 555-0144", "external_id": "MRN-101"}
    response = api.post("/api/v1/patients", json=other, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 422
    assert errors(response) == [(["header", "Idempotency-Key"], "idempotency_key_reused")]
    assert state(app) == before


def test_a_key_is_kept_a_day_then_a_retry_runs_afresh(app: App, api: TestClient, clock: FrozenClock) -> None:
    created = api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-2"})
    clock.advance(timedelta(hours=23))
    assert api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-2"}).status_code == 201
    clock.advance(timedelta(hours=2))
    late = api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-2"})
    # Run again: the patient exists, and the answer points at them.
    assert late.status_code == 409
    assert late.json()["patient_id"] == created.json()["patient"]["id"]
    assert late.headers["Location"] == created.headers["Location"]
    assert patients(app) == 1


def test_keys_belong_to_the_token_that_sent_them(app: App, api: TestClient) -> None:
    other_token = ApiTokens(app.database, app.clock).add("lab")
    api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "shared"})
    other = {**ENROLMENT, "phone": "(201) 555-0144", "external_id": "MRN-101"}
    response = api.post(
        "/api/v1/patients",
        json=other,
        headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {other_token}"},
    )
    assert response.status_code == 201
    assert patients(app) == 2


def test_an_answer_to_a_bad_token_is_not_kept(app: App, api: TestClient, token: str) -> None:
    bad = api.post(
        "/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-3", "Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    assert api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": "k-3"}).status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"], ids=["empty", "too-long", "control"])
def test_a_malformed_key_is_422_and_writes_nothing(app: App, api: TestClient, key: str) -> None:
    before = state(app)
    response = api.post("/api/v1/patients", json=ENROLMENT, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert [loc for loc, _ in errors(response)] == [["header", "Idempotency-Key"]]
    assert state(app) == before


# -- conflicts with an existing patient ---------------------------------------------------------


def test_an_enrolment_for_a_record_number_that_exists_is_409_pointing_at_the_patient(
    app: App, api: TestClient
) -> None:
    created = api.post("/api/v1/patients", json=ENROLMENT).json()["patient"]["id"]
    before = state(app)
    response = api.post("/api/v1/patients", json={**ENROLMENT, "phone": "(201) 555-0144"})
    assert response.status_code == 409
    assert kind(response) == "conflict"
    assert response.json()["patient_id"] == created
    assert response.headers["Location"] == f"/api/v1/patients/{created}"
    assert state(app) == before


# -- pages and filters --------------------------------------------------------------------------


def test_paging_through_213_patients_while_more_are_added_skips_and_repeats_none(
    app: App, api: TestClient
) -> None:
    import_patients(app, range(1, 214))
    seen: list[int] = []
    page = api.get("/api/v1/patients", params={"limit": 50}).json()
    added = 0
    while True:
        seen += [p["id"] for p in page["items"]]
        if added < 3:  # a patient enrolled between every page request, for the first three pages
            added += 1
            import_patients(app, range(300 + added, 301 + added))
        if page["next"] is None:
            break
        assert page["next"].startswith("/api/v1/patients?")
        page = api.get(page["next"]).json()
    with UnitOfWork(app.database) as uow:
        every = list(uow.db.scalars(select(Patient.id).order_by(Patient.id)))
    assert seen == every
    assert len(seen) == 216


def test_a_page_after_the_cursor_follows_the_same_filters(app: App, api: TestClient) -> None:
    import_patients(app, range(1, 8))
    first = api.get("/api/v1/patients", params={"limit": 3, "q": "Patient"}).json()
    second = api.get("/api/v1/patients", params={"limit": 3, "q": "Patient", "cursor": first["next_cursor"]})
    assert [p["name"] for p in first["items"] + second.json()["items"]] == [
        f"Patient {n:03d}" for n in range(1, 7)
    ]


@pytest.mark.parametrize("cursor", ["nonsense", "cDo", "eDo1"], ids=["garbage", "no-id", "another-list"])
def test_a_cursor_the_list_did_not_give_out_is_422(api: TestClient, cursor: str) -> None:
    response = api.get("/api/v1/patients", params={"cursor": cursor})
    assert response.status_code == 422
    assert [loc for loc, _ in errors(response)] == [["query", "cursor"]]


def test_patients_are_found_by_record_number_and_by_phone_typed_any_way(app: App, api: TestClient) -> None:
    import_patients(app, range(1, 6))

    def names(**params: str) -> list[str]:
        return [p["name"] for p in api.get("/api/v1/patients", params=params).json()["items"]]

    assert names(external_id="MRN-3") == ["Patient 003"]
    assert names(external_id="MRN-30") == []
    assert names(phone="(201) 555-0004") == ["Patient 004"]
    assert names(phone="+12015550004") == ["Patient 004"]
    bad = api.get("/api/v1/patients", params={"phone": "+1 201 CALL NOW"})
    assert bad.status_code == 422
    assert [loc for loc, _ in errors(bad)] == [["query", "phone"]]


def test_updated_since_returns_exactly_the_patients_changed_after_that_time(
    app: App, api: TestClient, clock: FrozenClock
) -> None:
    import_patients(app, range(1, 11))
    clock.advance(timedelta(minutes=5))
    since = clock.now()
    clock.advance(timedelta(minutes=5))
    ids = [p["id"] for p in api.get("/api/v1/patients").json()["items"]]
    api.post(f"/api/v1/patients/{ids[1]}/pause")  # the patient's record
    api.patch(f"/api/v1/patients/{ids[4]}", json={"name": "Patient Five"})
    session = api.get(f"/api/v1/patients/{ids[7]}").json()["appointments"][1]["id"]
    api.post(f"/api/v1/appointments/{session}/cancel")  # one of their sessions
    changed = api.get("/api/v1/patients", params={"updated_since": since.isoformat()}).json()["items"]
    assert [p["id"] for p in changed] == [ids[1], ids[4], ids[7]]
    assert all(p["updated_at"] > since.isoformat() or p["id"] == ids[7] for p in changed)
    naive = api.get("/api/v1/patients", params={"updated_since": "2026-03-03T09:00:00"})
    assert naive.status_code == 422
    assert [loc for loc, _ in errors(naive)] == [["query", "updated_since"]]


# -- times, types and no-op changes -------------------------------------------------------------


def test_the_apis_own_local_start_can_be_sent_back_to_move_a_session(app: App, api: TestClient) -> None:
    detail = api.post("/api/v1/patients", json=ENROLMENT).json()
    first, second = detail["appointments"][0], detail["appointments"][1]
    # Move the first session to one hour after the second one's start, as an ISO instant.
    moved = api.post(
        f"/api/v1/appointments/{first['id']}/reschedule", json={"when": "2026-03-12T15:30:00-04:00"}
    )
    assert moved.status_code == 200, moved.text
    now = next(a for a in moved.json()["appointments"] if a["id"] == first["id"])
    assert now["local_start"] == "2026-03-12T15:30:00-04:00"
    again = api.post(f"/api/v1/appointments/{first['id']}/reschedule", json={"when": second["local_start"]})
    assert again.status_code == 409  # the second session is that day; the time itself was read
    assert kind(again) == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"days": "35"}, "days"), ({"days": True}, "days"), ({"days": 35.0}, "days")],
    ids=["a-string", "a-boolean", "a-float"],
)
def test_numbers_are_not_coerced(app: App, api: TestClient, body: dict[str, Any], field: str) -> None:
    patient = api.post("/api/v1/patients", json=ENROLMENT).json()["patient"]["id"]
    before = state(app)
    response = api.put(f"/api/v1/patients/{patient}/interval", json=body)
    assert response.status_code == 422
    assert [loc for loc, _ in errors(response)] == [["body", field]]
    assert state(app) == before


def test_every_wrong_field_is_named_at_once(api: TestClient) -> None:
    response = api.post(
        "/api/v1/patients",
        json={**ENROLMENT, "interval_days": "35", "first": "next monday", "nickname": "x", "consent": 3},
    )
    assert response.status_code == 422
    assert {tuple(loc) for loc, _ in errors(response)} == {
        ("body", "interval_days"),
        ("body", "first"),
        ("body", "nickname"),
        ("body", "consent"),
    }


def test_pausing_twice_and_resuming_an_active_patient_are_answered_alike(app: App, api: TestClient) -> None:
    patient = api.post("/api/v1/patients", json=ENROLMENT).json()["patient"]["id"]
    before = state(app)
    resumed = api.post(f"/api/v1/patients/{patient}/resume")
    assert (resumed.status_code, kind(resumed)) == (409, "conflict")
    assert state(app) == before
    assert api.post(f"/api/v1/patients/{patient}/pause").status_code == 200
    twice = api.post(f"/api/v1/patients/{patient}/pause")
    assert (twice.status_code, kind(twice)) == (409, "conflict")
    assert api.post(f"/api/v1/patients/{patient}/resume").status_code == 200


# -- every error, one shape ---------------------------------------------------------------------


def test_every_kind_of_error_is_a_problem_document(api: TestClient) -> None:
    answers = {
        400: api.post("/api/v1/patients", content=b"{", headers={"Content-Type": "application/json"}),
        401: api.get("/api/v1/patients", headers={"Authorization": "Bearer nope"}),
        404: api.get("/api/v1/patients/999"),
        405: api.delete("/api/v1/patients"),
        413: api.post("/api/v1/patients", json={**ENROLMENT, "name": "A" * 70_000}),
        415: api.post("/api/v1/patients", data={"name": "Ana"}),
        422: api.post("/api/v1/patients", json={}),
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        assert kind(response)  # checks the whole shape
    assert api.get("/api/v1/no-such-thing").status_code == 404
    assert kind(api.get("/api/v1/no-such-thing")) == "not-found"


def test_past_the_rate_a_token_gets_429_with_retry_after(app: App, token: str) -> None:
    app.settings = dataclasses.replace(app.settings, api_rate_per_minute=5)
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        codes = [client.get("/api/v1/patients").status_code for _ in range(6)]
        refused = client.get("/api/v1/patients")
    assert codes == [200] * 5 + [429]
    assert kind(refused) == "rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 12


def test_a_patients_confirmation_and_change_request_can_be_read(
    app: App, api: TestClient, clock: FrozenClock
) -> None:
    detail = api.post("/api/v1/patients", json=ENROLMENT).json()
    patient = detail["patient"]["id"]
    assert api.get(f"/api/v1/patients/{patient}/replies").json() == []
    replies = Replies(app.settings, app.protocols, app.database, app.clock)
    replies.receive("+12015550123", "C", "SM-reply-1")
    clock.advance(timedelta(minutes=3))
    replies.receive("+12015550123", "R", "SM-reply-2")
    listed = api.get(f"/api/v1/patients/{patient}/replies").json()
    assert [(r["intent"], r["text"], r["urgent"]) for r in listed] == [
        ("change", "R", False),
        ("confirm", "C", False),
    ]
    assert all(r["auto_reply"] for r in listed)
    session = api.get(f"/api/v1/patients/{patient}").json()["appointments"][0]
    assert session["confirmed_at"] is not None
    assert session["change_requested_at"] is not None
