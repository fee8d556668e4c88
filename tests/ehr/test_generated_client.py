"""The EHR's side: a client generated from the running service's `/openapi.json` with
openapi-python-client, used for a whole course, bad input included, against `reminders serve`."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.app import build
from scheduler.services.api_tokens import ApiTokens
from scheduler.store.db import upgrade
from tests.support import make_settings
from tests.support.server import Server, serving

ZONE = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp_path = tmp_path_factory.mktemp("ehr")
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    app = build(make_settings(database_url))
    try:
        token = ApiTokens(app.database, app.clock).add("ehr")
    finally:
        app.close()
    with serving(tmp_path, database_url, {"SMS_BACKEND": "console"}, worker=False) as running:
        yield running, token


@pytest.fixture(scope="module")
def ehr(service: tuple[Server, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The generated package, `ehr_client`, imported from where it was generated."""
    server, _token = service
    where = tmp_path_factory.mktemp("generated")
    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as answer:
        (where / "openapi.json").write_bytes(answer.read())
    (where / "config.yaml").write_text(
        "package_name_override: ehr_client\nproject_name_override: ehr-client\n"
    )
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--output-path", "ehr_client",
         "--meta", "none", "--config", "config.yaml"],
        cwd=where, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("ehr_client")
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == "ehr_client" or m.startswith("ehr_client.")]:
            del sys.modules[name]


def module(ehr: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{ehr.__name__}.{name}")


def next_weekday_at(hour: int, days: int = 7) -> datetime:
    day = datetime.now(ZONE).date() + timedelta(days=days)
    while day.weekday() != 0:  # a Monday: the induction series falls Monday, Wednesday, Friday
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


def test_an_ehr_runs_a_course_through_a_generated_client(service: tuple[Server, str], ehr: Any) -> None:
    server, token = service
    client = ehr.AuthenticatedClient(base_url=server.url, token=token)
    patients = module(ehr, "api.patients")
    appointments = module(ehr, "api.appointments")
    models = module(ehr, "models")
    first = next_weekday_at(10)

    # Enrol with the EHR's record number.
    body = models.EnrolBody(
        name="Ana Lima",
        phone="(201) 555-0123",
        timezone="America/New_York",
        first=first.strftime("%Y-%m-%d %H:%M"),
        consent="intake-form",
        external_id="MRN-5512",
    )
    enrol = importlib.import_module(f"{patients.__name__}.enrol_patient")
    created = enrol.sync_detailed(client=client, body=body)
    assert created.status_code == 201
    assert isinstance(created.parsed, models.PatientDetail)
    patient_id = created.parsed.patient.id
    assert created.headers["location"] == f"/api/v1/patients/{patient_id}"
    for n in range(2, 5):  # a few more patients to page through
        more = models.EnrolBody(
            name=f"Patient {n}", phone=f"(201) 555-010{n}", timezone="America/New_York",
            first=first.strftime("%Y-%m-%d %H:%M"), consent="intake-form", external_id=f"MRN-{n}",
        )  # fmt: skip
        assert enrol.sync_detailed(client=client, body=more).status_code == 201

    # Page through everyone, two at a time.
    listing = importlib.import_module(f"{patients.__name__}.list_patients")
    seen, cursor = [], None
    while True:
        page = listing.sync(client=client, limit=2, **({"cursor": cursor} if cursor else {}))
        assert isinstance(page, models.PatientPage)
        seen += [p.id for p in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 4

    # Find the patient by the EHR's record number.
    found = listing.sync(client=client, external_id="MRN-5512")
    assert [p.id for p in found.items] == [patient_id]
    assert found.items[0].status == models.PatientStatus.ACTIVE

    # Move the first session to the afternoon, sent as an ISO instant with its offset.
    session = created.parsed.appointments[0]
    reschedule = importlib.import_module(f"{appointments.__name__}.reschedule_appointment")
    afternoon = first.replace(hour=15, minute=30)
    moved = reschedule.sync_detailed(
        session.id, client=client, body=models.RescheduleBody(when=afternoon.isoformat())
    )
    assert moved.status_code == 200, moved.content
    [now] = [a for a in moved.parsed.appointments if a.id == session.id]
    assert now.local_start == afternoon

    # An outcome before the session has started is refused with the problem shape.
    outcome = importlib.import_module(f"{appointments.__name__}.record_outcome")
    early = outcome.sync_detailed(
        session.id, client=client, body=models.OutcomeBody(outcome=models.OutcomeBodyOutcome.ATTENDED)
    )
    assert early.status_code == 409
    assert isinstance(early.parsed, models.Problem)
    assert early.parsed.type_ == "urn:reminders:problem:conflict"

    # Pause, and the record says so.
    pause = importlib.import_module(f"{patients.__name__}.pause_patient")
    paused = pause.sync(patient_id, client=client)
    assert paused.patient.status == models.PatientStatus.PAUSED

    # Bad input: every wrong field named at once, with the problem shape, and nothing written.
    bad = models.EnrolBody(
        name="Ben Okafor", phone="+1 201 CALL NOW", timezone="Mars/Olympus",
        first=first.strftime("%Y-%m-%d %H:%M"), consent="intake-form",
    )  # fmt: skip
    refused = enrol.sync_detailed(client=client, body=bad)
    assert refused.status_code == 422
    assert isinstance(refused.parsed, models.Problem)
    assert {e.field for e in refused.parsed.errors} == {"phone", "timezone"}
    assert json.loads(refused.content)["status"] == 422
    assert len(listing.sync(client=client, limit=50).items) == 4
