"""Acceptance tests for the installed `reminders` command (DESIGN.md sections 4, 8 and 9).

Each test runs the console script in a subprocess with a clean environment, in an empty
directory, against a migrated SQLite file and (when REMINDERS_TEST_POSTGRES_URL is set) an
emptied PostgreSQL database. Checks whose outcome is settled before anything is written run on
SQLite only, and commands that need no database (or only their own) are started concurrently:
each process start costs most of a second.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from scheduler.cli import cli
from scheduler.store.db import SCHEMA_REVISION, alembic_config
from tests.cli.harness import (
    Reminders,
    Result,
    Snapshot,
    by_id,
    clean_environment,
    enrol_directly,
    first_monday,
    instant,
    local_iso,
    open_day,
    row_counts,
    snapshot,
    wall_clock,
    zone_outside_send_window,
)

# Behaviour decided before anything is written, or not involving SQL at all, runs on SQLite only:
# every command costs a process start (~0.7 s) and the suite should stay fast.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CHICAGO = "America/Chicago"
IV_DAYS = (0, 2, 4, 7, 9, 11)
BUILT_IN_PROTOCOLS = {
    "iv-6x-mwf": [0, 2, 4, 7, 9, 11],
    "iv-6x-2w": [0, 3, 7, 10, 14, 17],
    "esk-trd": [0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49],
    "esk-mdsi": [0, 3, 7, 10, 14, 17, 21, 24],
    "touch-up-only": [0],
}
PATIENT_KEYS = {"id", "name", "phone", "timezone", "protocol", "status", "touch_up_interval_days"}
APPOINTMENT_KEYS = {"id", "kind", "number", "starts_at", "local_start", "status"}
REMINDER_KEYS = {"id", "appointment_id", "kind", "due_at", "status", "reason"}
CSV_HEADER = "name,phone,timezone,protocol,first,consent"
CUSTOM_PROTOCOL = """
[protocols.iv-8x]
name = "IV series, 8 sessions"
family = "iv"
days = [0, 2, 4, 7, 9, 11, 14, 16]
touch_up_days = 28
"""


def enrol_args(first_session: str, **changes: str) -> list[str]:
    """`enrol` arguments for a valid new patient, with some options changed."""
    options = {
        "name": "Ben Example",
        "phone": "+12015550124",
        "timezone": CHICAGO,
        "protocol": "iv-6x-mwf",
        "first": first_session,
        "consent": "intake-form",
    } | changes
    return ["enrol", *(part for key, value in options.items() for part in (f"--{key}", value))]


def session(detail: dict[str, Any], kind: str, number: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        a for a in detail["appointments"] if a["kind"] == kind and a["number"] == number
    ]
    assert len(found) == 1, found
    return found[0]


def pending_texts(detail: dict[str, Any], appointment_id: int) -> set[int]:
    """Ids of the session's texts that are waiting to be sent."""
    return {
        r["id"]
        for r in detail["reminders"]
        if r["appointment_id"] == appointment_id and r["status"] == "pending"
    }


def upcoming_touch_ups(detail: dict[str, Any]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        a
        for a in detail["appointments"]
        if a["kind"] == "touch-up"
        and a["status"] in ("scheduled", "confirmed")
        and instant(a["starts_at"]) > now
    ]


def write_csv(path: Path, *rows: str, header: str = CSV_HEADER) -> Path:
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


# -- commands that need no database: started together, as each costs a process start --------------

BAD_SETTINGS = {"SEND_WINDOW": "9-5", "DAILY_TEXT_LIMIT": "zero"}
MALFORMED_TOML = "[protocols.iv-8x\nname = \n"


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Run every command that stops before it opens a database, all at once; name -> result."""
    home = tmp_path_factory.mktemp("offline")
    malformed = home / "protocols.toml"
    malformed.write_text(MALFORMED_TOML, encoding="utf-8")
    command = Reminders(home, clean_environment(DATABASE_URL=f"sqlite:///{home / 'unused.db'}"))
    started = {
        "--help": command.start("--help"),
        "python -m scheduler --help": command.start_module("--help"),
        "protocols --json": command.start("protocols", "--json"),
        "protocols with a malformed PROTOCOLS_FILE": command.start(
            "protocols", env={"PROTOCOLS_FILE": str(malformed)}
        ),
        "enrol without --phone": command.start("enrol", "--name", "Ann"),
    }
    for variable, value in BAD_SETTINGS.items():
        started[f"patients with {variable}={value}"] = command.start("patients", env={variable: value})
    return {name: running.wait() for name, running in started.items()}


# -- enrol -----------------------------------------------------------------------------------------


def test_enrol_json_prints_the_patient_their_sessions_and_their_texts(reminders: Reminders) -> None:
    monday = first_monday(CHICAGO)
    detail = reminders.json(*enrol_args(wall_clock(monday, "10:00"), phone="(201) 555-0123"))

    assert set(detail) == {"patient", "appointments", "reminders", "warnings"}
    assert detail["warnings"] == []  # a Monday at 10:00 in Chicago is nothing odd
    patient = detail["patient"]
    assert set(patient) >= PATIENT_KEYS
    assert patient["name"] == "Ben Example"
    assert patient["phone"] == "+12015550123"
    assert patient["timezone"] == CHICAGO
    assert patient["protocol"] == "iv-6x-mwf"
    assert patient["status"] == "active"
    assert patient["touch_up_interval_days"] == 28

    appointments = detail["appointments"]
    for a in appointments:
        assert set(a) >= APPOINTMENT_KEYS
        assert a["status"] == "scheduled"
        assert a["starts_at"].endswith("+00:00")
        assert instant(a["local_start"]) == instant(a["starts_at"])
    inductions = [a for a in appointments if a["kind"] == "induction"]
    touch_ups = [a for a in appointments if a["kind"] == "touch-up"]
    assert [a["number"] for a in inductions] == [1, 2, 3, 4, 5, 6]
    assert [a["number"] for a in touch_ups] == [1]
    # Mon, Wed, Fri, Mon, Wed, Fri at the requested wall-clock time, with Chicago's offset.
    expected = [local_iso(monday + timedelta(days=d), 10, 0, CHICAGO) for d in IV_DAYS]
    assert [a["local_start"] for a in inductions] == expected
    last = monday + timedelta(days=IV_DAYS[-1])
    assert touch_ups[0]["local_start"] == local_iso(open_day(last + timedelta(days=28)), 10, 0, CHICAGO)

    reminders_ = detail["reminders"]
    ids = {a["id"] for a in appointments}
    for r in reminders_:
        assert set(r) >= REMINDER_KEYS
        assert r["due_at"].endswith("+00:00")
        assert r["appointment_id"] is None or r["appointment_id"] in ids
        assert r["status"] in ("pending", "skipped")
        assert (r["reason"] is None) == (r["status"] == "pending")
    assert [r["kind"] for r in reminders_ if r["appointment_id"] is None] == ["welcome"]
    first_session = session(detail, "induction", 1)
    assert {r["kind"] for r in reminders_ if r["appointment_id"] == first_session["id"]} >= {
        "prep",
        "day-of",
        "check-in",
    }


def test_names_are_stored_exactly_as_given(reminders: Reminders) -> None:
    name = 'Zoë "Zee" O\'Brien 🌻 (张伟)'
    enrolled = reminders.json(*enrol_args(wall_clock(first_monday(CHICAGO)), name=name))
    assert enrolled["patient"]["name"] == name

    shown = reminders.json("show", str(enrolled["patient"]["id"]))

    assert shown["patient"]["name"] == name
    assert shown["messages"] == []


# -- bad input ---------------------------------------------------------------------------------------

BAD_ENROLMENTS: dict[str, tuple[dict[str, str], str]] = {
    "phone-too-short": ({"phone": "12345"}, "phone"),
    "phone-landline-only": ({"phone": "+442079460000"}, "mobile"),
    "phone-invalid-555": ({"phone": "+15555550123"}, "not a valid number"),
    "timezone-unknown": ({"timezone": "Mars/Olympus"}, "timezone"),
    "timezone-abbreviation": ({"timezone": "EST"}, "timezone"),
    "protocol-unknown": ({"protocol": "iv-99x"}, "protocol"),
    "first-in-the-past": ({"first": "2020-01-06 10:00"}, "past"),
    "first-malformed": ({"first": "tomorrow 10am"}, "YYYY-MM-DD HH:MM"),
    "consent-empty": ({"consent": ""}, "consent"),
    "name-over-100-characters": ({"name": "x" * 101}, "name"),
}


@dataclass(frozen=True)
class Attempt:
    result: Result
    before: Snapshot
    after: Snapshot


@pytest.fixture(scope="module")
def bad_enrolments(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Attempt]:
    """Every bad enrolment, each against its own SQLite database holding one patient.

    The commands run at the same time (each costs a process start); the tests below look at one
    outcome each.
    """
    first = wall_clock(first_monday(CHICAGO))
    started = {}
    for case, (changes, _) in BAD_ENROLMENTS.items():
        home = tmp_path_factory.mktemp(case)
        url = f"sqlite:///{shutil.copy(sqlite_template, home / 'reminders.db')}"
        enrol_directly(url, first=first, phone="+12015550123")
        command = Reminders(home, clean_environment(DATABASE_URL=url))
        started[case] = (url, snapshot(url), command.start(*enrol_args(first, **changes)))
    return {
        case: Attempt(running.wait(), before, snapshot(url))
        for case, (url, before, running) in started.items()
    }


@pytest.mark.parametrize("case", BAD_ENROLMENTS)
def test_bad_enrolment_exits_2_with_one_error_line_and_writes_nothing(
    bad_enrolments: dict[str, Attempt], case: str
) -> None:
    attempt = bad_enrolments[case]
    line = attempt.result.assert_rejected()
    assert BAD_ENROLMENTS[case][1] in line
    assert attempt.after == attempt.before


def test_enrolling_a_number_already_in_care_exits_2_and_writes_nothing(
    reminders: Reminders, database_url: str
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    enrol_directly(database_url, first=first, phone="+12015550123")
    before = snapshot(database_url)

    line = reminders(*enrol_args(first, phone="(201) 555-0123")).assert_rejected()

    assert "phone number" in line
    assert snapshot(database_url) == before


@SQLITE_ONLY
def test_showing_an_unknown_patient_exits_2_with_one_error_line(reminders: Reminders) -> None:
    line = reminders("show", "999").assert_rejected()
    assert "999" in line


def test_a_missing_required_option_exits_2_with_one_error_line(offline: dict[str, Result]) -> None:
    line = offline["enrol without --phone"].assert_rejected()
    assert "--phone" in line


# -- import --------------------------------------------------------------------------------------------


def test_import_of_a_good_csv_enrols_every_row(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,America/New_York,iv-6x-mwf,{first},intake-form",
        f"Bob Example,(201) 555-0125,{CHICAGO},iv-6x-2w,{first},intake-form",
        f'"Zoë ""Zee"" O\'Brien",+447911123456,Europe/London,esk-trd,{first},verbal',
    )

    result = reminders("import", str(csv_file))

    assert result.returncode == 0, result.stderr
    patients = reminders.json("patients")
    assert [(p["name"], p["phone"], p["protocol"]) for p in patients] == [
        ("Ann Example", "+12015550124", "iv-6x-mwf"),
        ("Bob Example", "+12015550125", "iv-6x-2w"),
        ('Zoë "Zee" O\'Brien', "+447911123456", "esk-trd"),
    ]
    assert row_counts(database_url)["appointments"] == (6 + 1) + (6 + 1) + (12 + 1)


@SQLITE_ONLY
def test_import_of_a_csv_saved_by_excel_with_bom_and_crlf_enrols_every_row(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    rows = [CSV_HEADER, f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first},intake-form"]
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes("\r\n".join(rows).encode("utf-8-sig") + b"\r\n")

    report = reminders.json("import", str(csv_file))

    assert report["ok"] is True
    assert len(report["patient_ids"]) == 1
    assert row_counts(database_url)["patients"] == 1


def test_import_with_one_bad_row_names_its_line_and_imports_nothing(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Bob Example,12345,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Cy Example,+12015550126,{CHICAGO},iv-6x-mwf,{first},intake-form",
    )
    before = snapshot(database_url)

    result = reminders("import", str(csv_file))

    assert result.returncode == 2
    assert "line 3" in result.stderr
    assert "line 2:" not in result.stderr
    assert "line 4:" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ")
    assert snapshot(database_url) == before


@SQLITE_ONLY
def test_import_json_lists_every_bad_row_with_its_line_number(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Bob Example,+12015550125,Mars/Olympus,iv-6x-mwf,{first},intake-form",
        f"Cy Example,+12015550126,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Di Example,+12015550127,{CHICAGO},no-such-protocol,{first},intake-form",
    )

    result = reminders("import", str(csv_file), "--json")

    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["patient_ids"] == []
    assert [e["line"] for e in report["errors"]] == [3, 5]
    assert "timezone" in report["errors"][0]["error"]
    assert "protocol" in report["errors"][1]["error"]
    assert row_counts(database_url)["patients"] == 0


@SQLITE_ONLY
def test_import_dry_run_of_a_good_csv_checks_it_and_writes_nothing(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Bob Example,+12015550125,{CHICAGO},iv-6x-mwf,{first},intake-form",
    )
    before = snapshot(database_url)

    report = reminders.json("import", str(csv_file), "--dry-run")

    assert report["ok"] is True
    assert report["rows"] == 2
    assert report["patient_ids"] == []
    assert snapshot(database_url) == before


@SQLITE_ONLY
def test_import_rejects_a_file_whose_header_lacks_a_column(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first}",
        header="name,phone,timezone,protocol,first",
    )

    result = reminders("import", str(csv_file))

    assert result.returncode == 2
    assert "consent" in result.stderr
    assert row_counts(database_url)["patients"] == 0


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name,phone,timezone,first,consent\nJosé Núñez,+12015550124,UTC,2030-01-07 10:00,f".encode("cp1252"),
         'the file is not UTF-8 text: in the spreadsheet, save it as "CSV UTF-8" and try again'),
        (b"", "the file is empty"),
    ],
    ids=["windows-1252", "empty"],
)  # fmt: skip
def test_import_of_a_file_it_cannot_read_says_what_to_do(
    reminders: Reminders, database_url: str, tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(data)
    assert reminders("import", str(path)).assert_rejected() == f"error: {message}"
    assert row_counts(database_url)["patients"] == 0


@SQLITE_ONLY
def test_import_rejects_two_rows_with_the_same_number(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    first = wall_clock(first_monday(CHICAGO))
    csv_file = write_csv(
        tmp_path / "patients.csv",
        f"Ann Example,+12015550124,{CHICAGO},iv-6x-mwf,{first},intake-form",
        f"Bob Example,(201) 555-0124,{CHICAGO},iv-6x-mwf,{first},intake-form",
    )

    result = reminders("import", str(csv_file))

    assert result.returncode == 2
    assert "line 3" in result.stderr
    assert row_counts(database_url)["patients"] == 0


# -- changes to sessions and patients ------------------------------------------------------------------


@pytest.fixture
def enrolled(database_url: str) -> dict[str, Any]:
    """An iv-6x-mwf patient in Chicago whose course starts on a Monday at 10:00."""
    return enrol_directly(database_url, first=wall_clock(first_monday(CHICAGO), "10:00"))


def test_reschedule_moves_the_session_and_replaces_its_texts(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    second = session(enrolled, "induction", 2)  # a Wednesday
    old_pending = pending_texts(enrolled, second["id"])
    assert old_pending
    thursday = instant(second["local_start"]).date() + timedelta(days=1)

    detail = reminders.json("reschedule", str(second["id"]), wall_clock(thursday, "14:30"))

    moved = session(detail, "induction", 2)
    assert moved["id"] == second["id"]
    assert moved["status"] == "scheduled"
    assert moved["local_start"] == local_iso(thursday, 14, 30, CHICAGO)
    texts = by_id(detail["reminders"])
    for old in old_pending:
        assert (texts[old]["status"], texts[old]["reason"]) == ("cancelled", "rescheduled")
    new_pending = [
        r
        for r in detail["reminders"]
        if r["appointment_id"] == second["id"] and r["status"] == "pending" and r["id"] not in old_pending
    ]
    assert new_pending
    new_start = instant(moved["starts_at"])
    [prep] = [r for r in new_pending if r["kind"] == "prep"]
    assert timedelta(hours=23) <= new_start - instant(prep["due_at"]) <= timedelta(hours=25)
    assert all(instant(r["due_at"]) < new_start for r in new_pending)


@SQLITE_ONLY
def test_cancel_cancels_the_session_and_its_pending_texts(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    third = session(enrolled, "induction", 3)
    pending = pending_texts(enrolled, third["id"])
    assert pending

    detail = reminders.json("cancel", str(third["id"]))

    assert session(detail, "induction", 3)["status"] == "cancelled"
    texts = by_id(detail["reminders"])
    assert {(texts[i]["status"], texts[i]["reason"]) for i in pending} == {
        ("cancelled", "appointment-cancelled")
    }
    assert [a["status"] for a in detail["appointments"] if a["id"] != third["id"]] == ["scheduled"] * 6


def test_pause_cancels_every_pending_text_and_resume_brings_back_the_future_ones(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    patient_id = str(enrolled["patient"]["id"])
    pending = {r["id"] for r in enrolled["reminders"] if r["status"] == "pending"}

    paused = reminders.json("pause", patient_id)

    assert paused["patient"]["status"] == "paused"
    assert not [r for r in paused["reminders"] if r["status"] == "pending"]
    texts = by_id(paused["reminders"])
    assert {(texts[i]["status"], texts[i]["reason"]) for i in pending} == {("cancelled", "paused")}

    resumed = reminders.json("resume", patient_id)

    assert resumed["patient"]["status"] == "active"
    now = datetime.now(UTC)
    texts = by_id(resumed["reminders"])
    future_session_texts = [
        i for i in pending if texts[i]["appointment_id"] is not None and instant(texts[i]["due_at"]) > now
    ]
    assert future_session_texts
    assert {texts[i]["status"] for i in future_session_texts} == {"pending"}


@SQLITE_ONLY
def test_resume_brings_back_a_welcome_text_that_was_not_sent_yet(
    reminders: Reminders, database_url: str
) -> None:
    # Enrolled at night (patient-local), the welcome waits for the send window to open.
    tz = zone_outside_send_window()
    enrolled = enrol_directly(database_url, first=wall_clock(first_monday(tz)), timezone=tz)
    [welcome] = [r for r in enrolled["reminders"] if r["kind"] == "welcome"]
    assert welcome["status"] == "pending"
    assert instant(welcome["due_at"]) > datetime.now(UTC)
    patient_id = str(enrolled["patient"]["id"])

    reminders.json("pause", patient_id)
    resumed = reminders.json("resume", patient_id)

    after = by_id(resumed["reminders"])[welcome["id"]]
    assert after["status"] == "pending", f"welcome in {tz} due {after['due_at']}: {after}"


def test_discharge_cancels_future_sessions_and_every_pending_text(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    detail = reminders.json("discharge", str(enrolled["patient"]["id"]))

    assert detail["patient"]["status"] == "discharged"
    assert {a["status"] for a in detail["appointments"]} == {"cancelled"}
    assert not [r for r in detail["reminders"] if r["status"] == "pending"]
    pending_before = {r["id"] for r in enrolled["reminders"] if r["status"] == "pending"}
    texts = by_id(detail["reminders"])
    assert {texts[i]["status"] for i in pending_before} == {"cancelled"}


def test_interval_moves_the_upcoming_touch_up_and_skips_closed_days(
    reminders: Reminders, enrolled: dict[str, Any]
) -> None:
    patient_id = str(enrolled["patient"]["id"])
    last_induction = instant(session(enrolled, "induction", 6)["local_start"]).date()  # a Friday

    detail = reminders.json("interval", patient_id, "42")

    assert detail["patient"]["touch_up_interval_days"] == 42
    [touch_up] = upcoming_touch_ups(detail)
    friday = last_induction + timedelta(days=42)
    assert touch_up["local_start"] == local_iso(friday, 10, 0, CHICAGO)

    detail = reminders.json("interval", patient_id, "43")  # a Saturday: the clinic is closed

    [touch_up] = upcoming_touch_ups(detail)
    monday = open_day(last_induction + timedelta(days=43))
    assert monday.weekday() == 0
    assert touch_up["local_start"] == local_iso(monday, 10, 0, CHICAGO)
    assert touch_up["number"] == 1


@SQLITE_ONLY
def test_an_out_of_range_interval_exits_2_and_changes_nothing(
    reminders: Reminders, database_url: str, enrolled: dict[str, Any]
) -> None:
    before = snapshot(database_url)
    line = reminders("interval", str(enrolled["patient"]["id"]), "5").assert_rejected()
    assert "interval" in line
    assert snapshot(database_url) == before


@SQLITE_ONLY
def test_outcome_of_a_future_session_exits_2_and_changes_nothing(
    reminders: Reminders, database_url: str, enrolled: dict[str, Any]
) -> None:
    before = snapshot(database_url)
    first = session(enrolled, "induction", 1)
    reminders("outcome", str(first["id"]), "attended").assert_rejected()
    assert snapshot(database_url) == before


# -- protocols -------------------------------------------------------------------------------------------


def test_protocols_json_lists_the_five_built_ins_with_their_days(offline: dict[str, Result]) -> None:
    rows = offline["protocols --json"].json()
    assert {row["id"]: row["days"] for row in rows} == BUILT_IN_PROTOCOLS


@SQLITE_ONLY
def test_a_custom_protocol_from_protocols_file_can_be_listed_and_used(
    reminders: Reminders, tmp_path: Path
) -> None:
    toml = tmp_path / "protocols.toml"
    toml.write_text(CUSTOM_PROTOCOL, encoding="utf-8")
    reminders.env["PROTOCOLS_FILE"] = str(toml)

    listed = {row["id"]: row["days"] for row in reminders.json("protocols")}
    assert listed == BUILT_IN_PROTOCOLS | {"iv-8x": [0, 2, 4, 7, 9, 11, 14, 16]}

    detail = reminders.json(*enrol_args(wall_clock(first_monday(CHICAGO)), protocol="iv-8x"))
    assert detail["patient"]["protocol"] == "iv-8x"
    assert [a["number"] for a in detail["appointments"] if a["kind"] == "induction"] == list(range(1, 9))


def test_a_malformed_protocols_file_exits_2_with_one_line_naming_protocols_file(
    offline: dict[str, Result],
) -> None:
    line = offline["protocols with a malformed PROTOCOLS_FILE"].assert_rejected()
    assert "PROTOCOLS_FILE" in line


# -- database schema and settings -------------------------------------------------------------------------


def test_a_database_without_schema_asks_for_db_upgrade_and_works_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    reminders = Reminders(tmp_path, clean_environment(DATABASE_URL=url))

    line = reminders("patients").assert_rejected(code=1)
    assert "reminders db upgrade" in line

    upgraded = reminders("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database upgraded from revision none (empty) to {SCHEMA_REVISION}\n"
    assert reminders.json("patients") == []
    assert reminders("db", "upgrade").stdout == f"database is up to date (revision {SCHEMA_REVISION})\n"


def test_db_downgrade_takes_the_schema_back_for_an_older_version_and_upgrade_brings_it_forward(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    reminders = Reminders(tmp_path, clean_environment(DATABASE_URL=url))
    assert reminders("db", "upgrade").returncode == 0
    # The revision before the newest, as the newest migration names it.
    older = ScriptDirectory.from_config(alembic_config(url)).get_revision(SCHEMA_REVISION).down_revision
    assert isinstance(older, str)

    downgraded = reminders("db", "downgrade", older)
    assert downgraded.stdout == f"database taken back from revision {SCHEMA_REVISION} to {older}\n"
    assert "reminders db upgrade" in reminders("patients").assert_rejected(code=1)
    reminders("db", "downgrade", "9999").assert_rejected()
    assert (
        reminders("db", "upgrade").stdout == f"database upgraded from revision {older} to {SCHEMA_REVISION}\n"
    )
    assert reminders.json("patients") == []


def test_a_database_that_cannot_be_opened_exits_1_saying_what_to_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'reminders.db'}"
    reminders = Reminders(tmp_path, clean_environment(DATABASE_URL=url))

    line = reminders("patients").assert_rejected(code=1)
    assert "cannot open the SQLite database" in line
    assert "run the command as the service user" in line


@pytest.mark.parametrize("command", [("patients",), ("db", "upgrade"), ("status",)])
def test_an_unreachable_database_server_exits_1_naming_its_host_and_port(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    url = "postgresql://reminders:secret@127.0.0.1:9/reminders"
    reminders = Reminders(tmp_path, clean_environment(DATABASE_URL=url))

    line = reminders(*command).assert_rejected(code=1)
    assert line.startswith("error: database unreachable at 127.0.0.1:9: check DATABASE_URL")
    assert "secret" not in line


# Root reads any file; CI runs as root, and the interpreter may sit where no other user can run it.
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_dotenv_the_user_cannot_read_exits_saying_to_run_as_the_service_user(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///reminders.db\n", encoding="utf-8")
    (tmp_path / ".env").chmod(0)
    reminders = Reminders(tmp_path, clean_environment())

    line = reminders("patients").assert_rejected()
    assert line.startswith("error: cannot read ")
    assert "run the command as the service user" in line


@pytest.mark.parametrize("variable", BAD_SETTINGS)
def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(
    offline: dict[str, Result], variable: str
) -> None:
    line = offline[f"patients with {variable}={BAD_SETTINGS[variable]}"].assert_rejected()
    assert variable in line


@SQLITE_ONLY
def test_settings_are_read_from_a_dotenv_file_in_the_working_directory(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    enrol_directly(database_url, first=wall_clock(first_monday(CHICAGO)))
    # Not tmp_path: without a DATABASE_URL the default is reminders.db in the working directory.
    reminders.cwd = tmp_path / "clinic"
    reminders.cwd.mkdir()
    (reminders.cwd / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    del reminders.env["DATABASE_URL"]

    assert [p["name"] for p in reminders.json("patients")] == ["Ann Example"]


@SQLITE_ONLY
def test_a_dotenv_file_in_a_parent_directory_is_not_read_but_env_file_names_one(
    reminders: Reminders, database_url: str, tmp_path: Path
) -> None:
    enrol_directly(database_url, first=wall_clock(first_monday(CHICAGO)))
    # A file planted above the working directory would redirect the service; it is never read.
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    reminders.cwd = tmp_path / "clinic"
    reminders.cwd.mkdir()
    del reminders.env["DATABASE_URL"]
    # The default instead: a new, empty reminders.db in the working directory.
    assert "reminders db upgrade" in reminders("patients").assert_rejected(code=1)
    assert (reminders.cwd / "reminders.db").exists()

    named = tmp_path / "settings" / "reminders.env"
    named.parent.mkdir()
    named.write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    reminders.env["ENV_FILE"] = str(named)
    assert [p["name"] for p in reminders.json("patients")] == ["Ann Example"]
    reminders.env["ENV_FILE"] = str(tmp_path / "missing.env")
    assert "ENV_FILE" in reminders("patients").assert_rejected()


# -- help ----------------------------------------------------------------------------------------------------


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(walk(cli))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "reminders" for p, _ in COMMANDS])
def test_every_command_and_group_has_help_text_and_a_working_help_option(
    path: tuple[str, ...], command: click.Command
) -> None:
    assert (command.help or "").strip(), f"`reminders {' '.join(path)}` has no help text"
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"`reminders {' '.join(path)}` option {param.opts} has no help"
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="reminders")
    assert result.exit_code == 0, result.output
    assert "Usage: reminders" in result.output


def test_the_cli_offers_every_command_the_design_lists() -> None:
    documented = {
        ("db", "upgrade"),
        ("protocols",),
        ("enrol",),
        ("import",),
        ("patients",),
        ("show",),
        ("reschedule",),
        ("cancel",),
        ("outcome",),
        ("pause",),
        ("resume",),
        ("discharge",),
        ("interval",),
        ("dispatch",),
        ("worker",),
        ("serve",),
        ("preview",),
        ("edit",),
        ("add-session",),
        ("restore",),
        ("templates",),
        *(("users", verb) for verb in ("add", "list", "disable", "enable", "passwd")),
        *(("tokens", verb) for verb in ("add", "list", "revoke")),
    }
    assert documented - {path for path, _ in COMMANDS} == set()


def test_the_installed_command_prints_help_and_exits_0(offline: dict[str, Result]) -> None:
    result = offline["--help"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: reminders")
    assert result.stderr == ""


def test_python_m_scheduler_help_works(offline: dict[str, Result]) -> None:
    result = offline["python -m scheduler --help"]
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert "enrol" in result.stdout
