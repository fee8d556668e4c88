"""Correcting a record or a course, on SQLite and PostgreSQL: the fields of a patient, a time zone
fixed, a new protocol from a chosen day, a session added, a cancelled one restored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from scheduler.app import App
from scheduler.errors import Conflict, InvalidInput
from scheduler.serialize import to_json
from scheduler.services import Clinic, EnrolRequest
from scheduler.services.edits import EditRequest
from scheduler.store.models import AuditEntry, Reminder
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock

# The clock stands at Tue 2026-03-03 09:00 in New York.
FIRST = "2026-03-09 10:00"  # a Monday


def enrol(clinic: Clinic, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Ana Lima",
        "phone": "(201) 555-0123",
        "timezone": "America/New_York",
        "protocol": "iv-6x-mwf",
        "first": FIRST,
        "consent": "intake-form",
    }
    fields.update(changes)
    detail: dict[str, Any] = to_json(clinic.enrol(EnrolRequest(**fields)))
    return detail


def shown(clinic: Clinic, patient_id: int) -> dict[str, Any]:
    detail: dict[str, Any] = to_json(clinic.show(patient_id))
    return detail


def sessions(detail: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    """(kind, number, local start, status) of every session, in time order."""
    return [
        (a["kind"], a["number"], a["local_start"][:16], a["status"])
        for a in sorted(detail["appointments"], key=lambda a: (a["starts_at"], a["id"]))
    ]


def audit_of(app: App, action: str) -> list[dict[str, Any]]:
    with UnitOfWork(app.database) as uow:
        rows = uow.db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [dict(r.details or {}) for r in rows]


def mark_sent(app: App, **where: Any) -> None:
    with UnitOfWork(app.database) as uow:
        query = update(Reminder).values(
            status="sent", sent_at=datetime.fromisoformat("2026-03-03T14:00:00+00:00")
        )
        for name, value in where.items():
            query = query.where(getattr(Reminder, name) == value)
        uow.db.execute(query)
        uow.commit()


@pytest.fixture
def clinic(app: App) -> Clinic:
    return app.clinic("test:staff")


# -- the record ----------------------------------------------------------------------------------


def test_fields_of_the_record_change_and_the_audit_names_them_but_not_their_values(
    clinic: Clinic, app: App
) -> None:
    before = enrol(clinic)
    pid = before["patient"]["id"]
    after = to_json(
        clinic.edit(
            pid, EditRequest(name="Ana M. Lima", consent="signed form", external_id="MRN-9", language="es")
        )
    )
    p = after["patient"]
    assert (p["name"], p["consent"], p["external_id"], p["language"]) == (
        "Ana M. Lima",
        "signed form",
        "MRN-9",
        "es",
    )
    assert after["appointments"] == before["appointments"]
    assert audit_of(app, "edit") == [{"fields": ["consent", "external_id", "language", "name"]}]
    cleared = to_json(clinic.edit(pid, EditRequest(external_id="")))
    assert cleared["patient"]["external_id"] is None
    with pytest.raises(InvalidInput, match="nothing to change"):
        clinic.edit(pid, EditRequest(name="Ana M. Lima"))


def test_bad_fields_are_all_named_and_nothing_changes(clinic: Clinic) -> None:
    pid = enrol(clinic)["patient"]["id"]
    before = shown(clinic, pid)
    with pytest.raises(InvalidInput) as info:
        clinic.edit(pid, EditRequest(name=" ", timezone="Mars/Olympus", language="fr", protocol="iv-99x"))
    assert set(info.value.problems) == {"name", "timezone", "language", "protocol"}
    assert shown(clinic, pid) == before


def test_a_record_number_taken_by_another_patient_is_a_conflict_naming_them(clinic: Clinic) -> None:
    other = enrol(clinic, phone="(201) 555-0199", external_id="MRN-1")["patient"]["id"]
    pid = enrol(clinic)["patient"]["id"]
    with pytest.raises(Conflict, match=f"patient {other}") as info:
        clinic.edit(pid, EditRequest(external_id="MRN-1"))
    assert info.value.existing == other


# -- the time zone ------------------------------------------------------------------------------


def test_a_time_zone_fix_keeps_the_local_times_and_moves_the_texts_without_a_notice(clinic: Clinic) -> None:
    before = enrol(clinic)
    pid = before["patient"]["id"]
    after = to_json(clinic.edit(pid, EditRequest(timezone="America/Chicago")))
    assert [s[2] for s in sessions(after)] == [s[2] for s in sessions(before)]  # same wall-clock times
    first_before = datetime.fromisoformat(before["appointments"][0]["starts_at"])
    first_after = datetime.fromisoformat(after["appointments"][0]["starts_at"])
    assert first_after - first_before == timedelta(hours=1)  # 10:00 in Chicago is an hour later
    assert not [r for r in after["reminders"] if r["kind"] == "notice"]
    prep = next(r for r in after["reminders"] if r["kind"] == "prep" and r["status"] == "pending")
    assert prep["due_at"] == "2026-03-08T15:00:00+00:00"  # 24 h before Mon 9 Mar 10:00 CDT


def test_a_time_zone_that_would_put_a_session_in_the_past_is_refused(
    clinic: Clinic, clock: FrozenClock
) -> None:
    pid = enrol(clinic, first="2026-03-04 10:00", timezone="America/Los_Angeles")["patient"]["id"]
    clock.set(datetime.fromisoformat("2026-03-04T16:30:00+00:00"))  # 08:30 in LA, 11:30 in New York
    before = shown(clinic, pid)
    with pytest.raises(InvalidInput, match="would already have begun") as info:
        clinic.edit(pid, EditRequest(timezone="America/New_York"))
    assert info.value.field == "timezone"
    assert shown(clinic, pid) == before


# -- the protocol -------------------------------------------------------------------------------


def test_touch_ups_start_after_staff_review_by_moving_to_touch_up_only(
    clinic: Clinic, clock: FrozenClock
) -> None:
    detail = enrol(clinic, protocol="esk-mdsi")
    pid = detail["patient"]["id"]
    assert detail["patient"]["touch_up_interval_days"] is None
    clock.set(datetime.fromisoformat("2026-04-20T14:00:00+00:00"))  # the series is over: staff review
    after = to_json(clinic.edit(pid, EditRequest(protocol="touch-up-only", start="2026-05-04 10:00")))
    assert after["patient"]["protocol"] == "touch-up-only"
    assert after["patient"]["touch_up_interval_days"] == 28
    upcoming = [a for a in after["appointments"] if a["local_start"] > "2026-04-20"]
    assert [(a["kind"], a["number"], a["local_start"][:16]) for a in upcoming] == [
        ("touch-up", 1, "2026-05-04T10:00")
    ]
    texts = {r["kind"] for r in after["reminders"] if r["appointment_id"] == upcoming[0]["id"]}
    assert texts == {"confirm", "prep", "check-in"}


def test_a_new_protocol_cancels_the_sessions_ahead_and_tells_the_patient_only_of_those_they_knew(
    clinic: Clinic, app: App
) -> None:
    detail = enrol(clinic)
    pid = detail["patient"]["id"]
    first, second = detail["appointments"][0]["id"], detail["appointments"][1]["id"]
    mark_sent(app, appointment_id=first, kind="confirm")  # the patient was asked about session 1
    after = to_json(clinic.edit(pid, EditRequest(protocol="iv-6x-2w", start="2026-03-10 11:00")))
    by_id = {a["id"]: a for a in after["appointments"]}
    assert (by_id[first]["status"], by_id[second]["status"]) == ("cancelled", "cancelled")
    notices = {
        r["appointment_id"] for r in after["reminders"] if r["kind"] == "notice" and r["status"] == "pending"
    }
    assert notices == {first}
    new = [s for s in sessions(after) if s[3] == "scheduled"]
    assert [s[2] for s in new][:3] == ["2026-03-10T11:00", "2026-03-13T11:00", "2026-03-17T11:00"]
    assert [s[1] for s in new if s[0] == "induction"] == [7, 8, 9, 10, 11, 12]  # after the old ones
    cancelled = [r for r in after["reminders"] if r["appointment_id"] == second and r["kind"] != "notice"]
    assert {(r["status"], r["reason"]) for r in cancelled} == {("cancelled", "protocol-changed")}


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        (EditRequest(protocol="esk-trd"), "from", "needs the day its course starts"),
        (EditRequest(protocol="esk-trd", start="2026-03-01 10:00"), "from", "in the past"),
        (EditRequest(protocol="esk-trd", start="2027-06-01 10:00"), "from", "more than a year away"),
        (EditRequest(start="2026-03-10 10:00"), "from", "goes with a new protocol"),
    ],
    ids=["no-start", "past", "too-far", "start-alone"],
)
def test_a_protocol_change_needs_a_start_ahead(
    clinic: Clinic, request_: EditRequest, field: str, message: str
) -> None:
    pid = enrol(clinic)["patient"]["id"]
    before = shown(clinic, pid)
    with pytest.raises(InvalidInput) as info:
        clinic.edit(pid, request_)
    assert message in info.value.problems[field]
    assert shown(clinic, pid) == before


def test_a_discharged_patients_course_cannot_change_but_their_name_can(clinic: Clinic) -> None:
    pid = enrol(clinic)["patient"]["id"]
    clinic.discharge(pid)
    with pytest.raises(InvalidInput, match="discharged"):
        clinic.edit(pid, EditRequest(protocol="esk-trd", start="2026-03-10 10:00"))
    assert (
        to_json(clinic.edit(pid, EditRequest(name="Ana Lima-Souza")))["patient"]["name"] == "Ana Lima-Souza"
    )


def test_a_preview_shows_the_change_and_writes_nothing(clinic: Clinic, app: App) -> None:
    pid = enrol(clinic)["patient"]["id"]
    before = shown(clinic, pid)
    planned = to_json(
        clinic.edit(pid, EditRequest(protocol="touch-up-only", start="2026-03-20 09:00"), preview=True)
    )
    assert [s for s in sessions(planned) if s[3] == "scheduled"] == [
        ("touch-up", 2, "2026-03-20T09:00", "scheduled")
    ]
    assert shown(clinic, pid) == before
    assert audit_of(app, "edit") == []


# -- sessions -------------------------------------------------------------------------------------


def test_an_added_session_takes_its_place_in_the_numbering_and_the_patient_is_told(clinic: Clinic) -> None:
    pid = enrol(clinic)["patient"]["id"]
    after = to_json(clinic.add_session(pid, "2026-03-10 15:00"))  # between sessions 1 and 2
    inductions = [(s[1], s[2]) for s in sessions(after) if s[0] == "induction"]
    assert inductions[:3] == [(1, "2026-03-09T10:00"), (2, "2026-03-10T15:00"), (3, "2026-03-11T10:00")]
    assert [n for n, _ in inductions] == [1, 2, 3, 4, 5, 6, 7]
    added = next(a for a in after["appointments"] if a["local_start"].startswith("2026-03-10T15:00"))
    kinds = {
        r["kind"]
        for r in after["reminders"]
        if r["appointment_id"] == added["id"] and r["status"] == "pending"
    }
    assert "notice" in kinds


def test_a_session_added_once_touch_ups_have_begun_is_a_touch_up(clinic: Clinic) -> None:
    pid = enrol(clinic, protocol="touch-up-only")["patient"]["id"]
    after = to_json(clinic.add_session(pid, "2026-03-20T10:00:00-04:00"))  # an ISO time with its offset
    assert [s[:3] for s in sessions(after)] == [
        ("touch-up", 1, "2026-03-09T10:00"),
        ("touch-up", 2, "2026-03-20T10:00"),
    ]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2026-03-02 10:00", "in the past"),
        ("2027-04-01 10:00", "more than a year away"),
        ("2026-03-11 16:00", "already has a session on 2026-03-11"),
        ("next week", "not a time"),
    ],
    ids=["past", "too-far", "same-day", "format"],
)
def test_a_bad_added_session_is_refused_and_writes_nothing(clinic: Clinic, when: str, message: str) -> None:
    pid = enrol(clinic)["patient"]["id"]
    before = shown(clinic, pid)
    with pytest.raises(InvalidInput, match=message):
        clinic.add_session(pid, when)
    assert shown(clinic, pid) == before


def test_a_restored_session_gets_fresh_texts_and_a_notice_only_if_the_cancellation_was_sent(
    clinic: Clinic, app: App
) -> None:
    detail = enrol(clinic)
    third, fourth = detail["appointments"][2]["id"], detail["appointments"][3]["id"]
    clinic.cancel(third)
    restored = to_json(clinic.restore(third))
    own = [r for r in restored["reminders"] if r["appointment_id"] == third and r["status"] == "pending"]
    # The unsent cancellation is simply withdrawn (session 2 comes first: its prep asks for C or R).
    assert {r["kind"] for r in own} == {"prep"}
    clinic.cancel(fourth)
    mark_sent(app, appointment_id=fourth, kind="notice")
    restored = to_json(clinic.restore(fourth))
    own = [r for r in restored["reminders"] if r["appointment_id"] == fourth and r["status"] == "pending"]
    assert {r["kind"] for r in own} == {"prep", "notice"}
    assert next(a for a in restored["appointments"] if a["id"] == fourth)["status"] == "scheduled"


def test_restoring_a_touch_up_cancels_the_one_booked_in_its_place(clinic: Clinic) -> None:
    detail = enrol(clinic)
    touch_up = detail["appointments"][-1]
    clinic.cancel(touch_up["id"])  # books the next one, an interval later
    after = to_json(clinic.restore(touch_up["id"]))
    live = [s for s in sessions(after) if s[0] == "touch-up" and s[3] == "scheduled"]
    assert live == [("touch-up", 1, "2026-04-17T10:00", "scheduled")]


def test_only_a_cancelled_session_ahead_can_be_restored(clinic: Clinic, clock: FrozenClock) -> None:
    detail = enrol(clinic)
    first, second = detail["appointments"][0]["id"], detail["appointments"][1]["id"]
    with pytest.raises(InvalidInput, match="only a cancelled session"):
        clinic.restore(first)
    clinic.cancel(second)
    clock.set(datetime.fromisoformat("2026-03-12T14:00:00+00:00"))
    with pytest.raises(InvalidInput, match="time has passed"):
        clinic.restore(second)
