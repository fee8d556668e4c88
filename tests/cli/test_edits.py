"""`reminders edit`, `add-session`, `restore` and `patients --search/--limit/--offset`, as an
operator runs them: exit 0 with the patient's course, or exit 2 with one error line and nothing
written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.cli.harness import Reminders, enrol_directly, first_monday, snapshot, wall_clock

CHICAGO = "America/Chicago"


@pytest.fixture
def enrolled(database_url: str) -> dict[str, Any]:
    return enrol_directly(database_url, first=wall_clock(first_monday(CHICAGO)))


def test_edit_changes_only_the_fields_given(reminders: Reminders, enrolled: dict[str, Any]) -> None:
    pid = str(enrolled["patient"]["id"])
    edited = reminders.json(
        "edit", pid, "--name", "Ann B. Example", "--external-id", "MRN-42", "--language", "es"
    )
    p = edited["patient"]
    assert (p["name"], p["external_id"], p["language"], p["timezone"]) == (
        "Ann B. Example", "MRN-42", "es", CHICAGO,
    )  # fmt: skip
    assert edited["appointments"] == enrolled["appointments"]
    shown = reminders("show", pid)
    assert "Record number MRN-42" in shown.stdout


def test_edit_moves_the_time_zone_keeping_local_times(reminders: Reminders, enrolled: dict[str, Any]) -> None:
    pid = str(enrolled["patient"]["id"])
    edited = reminders.json("edit", pid, "--timezone", "America/New_York")
    assert [a["local_start"][:16] for a in edited["appointments"]] == [
        a["local_start"][:16] for a in enrolled["appointments"]
    ]


def test_edit_changes_the_protocol_from_a_day_and_add_session_and_restore_work(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    pid = str(enrolled["patient"]["id"])
    monday = first_monday(CHICAGO)
    changed = reminders.json(
        "edit", pid, "--protocol", "touch-up-only", "--from", wall_clock(monday + timedelta(days=7), "09:30")
    )
    live = [a for a in changed["appointments"] if a["status"] == "scheduled"]
    assert [(a["kind"], a["local_start"][11:16]) for a in live] == [("touch-up", "09:30")]
    added = reminders.json("add-session", pid, wall_clock(monday + timedelta(days=14)))
    assert len([a for a in added["appointments"] if a["status"] == "scheduled"]) == 2
    cancelled = next(a for a in changed["appointments"] if a["status"] == "cancelled")
    restored = reminders.json("restore", str(cancelled["id"]))
    assert next(a for a in restored["appointments"] if a["id"] == cancelled["id"])["status"] == "scheduled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["edit", "{pid}", "--protocol", "esk-trd"], "needs the day its course starts"),
        (["edit", "{pid}", "--timezone", "EST"], "unknown timezone"),
        (["edit", "{pid}"], "nothing to change"),
        (["edit", "999"], "no patient with id 999"),
        (["add-session", "{pid}", "2020-01-06 10:00"], "in the past"),
        (["add-session", "{pid}", "tomorrow"], "not a time like YYYY-MM-DD HH:MM"),
        (["restore", "{first}"], "only a cancelled session can be restored"),
        (["patients", "--limit", "0"], "limit must be between 1 and 500"),
    ],
    ids=[
        "protocol-without-from",
        "bad-zone",
        "nothing",
        "unknown",
        "past",
        "format",
        "not-cancelled",
        "limit",
    ],
)
def test_bad_corrections_exit_2_with_one_line_and_write_nothing(
    reminders: Reminders, enrolled: dict[str, Any], database_url: str, args: list[str], message: str
) -> None:
    ids = {"pid": str(enrolled["patient"]["id"]), "first": str(enrolled["appointments"][0]["id"])}
    before = snapshot(database_url)
    line = reminders(*[a.format(**ids) for a in args]).assert_rejected()
    assert message in line
    assert snapshot(database_url) == before


def test_patients_finds_by_phone_typed_any_way_and_pages_with_a_header_row(
    reminders: Reminders, database_url: str
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    for n in range(5):
        enrol_directly(database_url, first=first, name=f"Patient {n}", phone=f"+1201555012{n}")
    for typed in ("(201) 555-0123", "+1 201-555-0123", "201.555.0123", "0123"):
        found = reminders.json("patients", "--search", typed)
        assert [p["name"] for p in found] == ["Patient 3"], typed
    page = reminders.json("patients", "--limit", "2", "--offset", "2")
    assert [p["name"] for p in page] == ["Patient 2", "Patient 3"]
    lines = reminders("patients", "--limit", "2").stdout.splitlines()
    assert lines[0].split() == ["id", "name", "phone", "record", "protocol", "status"]
    assert len(lines) == 3
