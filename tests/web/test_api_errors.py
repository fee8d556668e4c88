"""API errors that help the client and quote no patient data: field errors without the values,
a size limit on bodies, a JSON 500 that logs only a type and a request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scheduler.app import App, build
from scheduler.services.api_tokens import ApiTokens
from scheduler.web import create_app
from scheduler.web.protection import API_BODY_BYTES as MAX_BODY_BYTES
from tests.support import FrozenClock, make_settings

ENROL: dict[str, Any] = {
    "name": "Ana Lima",
    "phone": "(201) 555-0123",
    "timezone": "America/New_York",
    "protocol": "iv-6x-mwf",
    "first": "2026-03-09 10:00",
    "consent": "intake-form",
}


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    token = ApiTokens(app.database, app.clock).add("ehr")
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in ENROL.items() if k != "consent"},
        {**ENROL, "name": 7},
        {**ENROL, "interval_days": "Ana Lima (201) 555-0123"},
        {**ENROL, "nickname": "Ana Lima (201) 555-0123"},
    ],
    ids=["missing-consent", "wrong-type", "bad-interval", "unknown-field"],
)
def test_a_validation_error_names_the_field_but_never_echoes_what_was_sent(
    api: TestClient, body: dict[str, Any]
) -> None:
    response = api.post("/api/v1/patients", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    for error in response.json()["errors"]:
        assert set(error) == {"location", "field", "pointer", "detail", "code"}, error
    for sent in ("Ana", "Lima", "555", "0123"):
        assert sent not in response.text


def test_a_body_over_the_limit_is_413_without_being_read_or_echoed(app: App, api: TestClient) -> None:
    huge = {**ENROL, "name": "A" * (MAX_BODY_BYTES + 1)}
    response = api.post("/api/v1/patients", json=huge)
    assert response.status_code == 413
    assert len(response.content) < 200
    assert "KiB" in response.json()["detail"]
    assert app.clinic("test").patients(None) == []


def test_a_streamed_body_over_the_limit_is_413_too(api: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"A" * 1024
        yield b'"}'

    response = api.post("/api/v1/patients", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.fixture
def unreachable(clock: FrozenClock) -> Iterator[App]:
    built = build(make_settings("postgresql://reminders:secret@127.0.0.1:9/reminders"), clock, check=False)
    yield built
    built.close()


def test_an_unexpected_error_is_a_json_500_naming_a_request_id_and_logs_only_its_type(
    unreachable: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(unreachable), headers={"Authorization": "Bearer whatever"}) as client:
        response = client.post("/api/v1/patients", json=ENROL)
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert request_id in response.json()["detail"]
    [line] = [r for r in caplog.records if request_id in r.getMessage()]
    assert line.getMessage().endswith("failed: OperationalError")
    assert line.exc_info is None
    assert "127.0.0.1:9" not in caplog.text
    assert "555" not in caplog.text
