"""`reminders export` and `reminders report` as an operator runs them: CSV on standard output or
in a file, audited; bad input exits 2 with one error line and writes nothing (no file, no audit
entry)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.harness import Reminders, enrol_directly, first_monday, snapshot, wall_clock

NEW_YORK = "America/New_York"


@pytest.fixture
def enrolled(database_url: str) -> list[dict[str, Any]]:
    first = wall_clock(first_monday(NEW_YORK))
    return [
        enrol_directly(database_url, first=first, name="=1+2", timezone=NEW_YORK),
        enrol_directly(database_url, first=first, name="Bo Chen", phone="+12015550124", timezone=NEW_YORK),
    ]


def audited_exports(database_url: str) -> list[tuple[Any, ...]]:
    return [row for row in snapshot(database_url)["audit_log"] if row[3] == "export"]


def test_export_patients_prints_csv_that_reads_back_every_patient(
    reminders: Reminders, enrolled: list[dict[str, Any]], database_url: str
) -> None:
    result = reminders("export", "patients")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    ids = [str(d["patient"]["id"]) for d in enrolled]
    assert [(r["id"], r["name"], r["status"], r["protocol"]) for r in rows] == [
        (ids[0], "'=1+2", "active", "iv-6x-mwf"),
        (ids[1], "Bo Chen", "active", "iv-6x-mwf"),
    ]
    first = enrolled[0]["appointments"][0]["local_start"]
    assert rows[0]["next_session"] == first[:16] + first[19:]
    assert rows[0]["next_session_confirmed"] == "no"
    [entry] = audited_exports(database_url)
    assert entry[2].startswith("cli:")
    assert entry[6] == {"what": "patients", "rows": 2}
    assert "=1+2" not in result.stderr


def test_export_writes_a_file_with_o_and_says_how_many_rows(
    reminders: Reminders, enrolled: list[dict[str, Any]], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "messages.csv"
    target.parent.mkdir()
    result = reminders("export", "messages", "--from", "2020-01-01", "--to", "2020-01-31", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote 0 rows to {target}\n"
    assert target.read_bytes() == b"at,direction,patient_id,external_id,kind,status,error_code\r\n"
    assert [p.name for p in target.parent.iterdir()] == ["messages.csv"]
    with_bodies = reminders("export", "messages", "--with-bodies")
    assert with_bodies.stdout.splitlines()[0].endswith(",error_code,body")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-02-30"),
            "error: the from date must be a real date written YYYY-MM-DD, like 2026-03-01",
        ),
        (("--to", "yesterday"), "error: the to date must be a real date written YYYY-MM-DD, like 2026-03-01"),
        (("--from", "2026-03-05", "--to", "2026-03-04"), "error: the to date is before the from date"),
    ],
)
def test_a_bad_range_exits_2_with_one_line_and_writes_nothing(
    reminders: Reminders, database_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    enrol_directly(database_url, first=wall_clock(first_monday(NEW_YORK)), timezone=NEW_YORK)
    before = snapshot(database_url)
    folder = tmp_path / "exports"
    folder.mkdir()
    result = reminders("export", "messages", *args, "-o", str(folder / "messages.csv"))
    assert result.assert_rejected() == message
    assert list(folder.iterdir()) == []
    assert snapshot(database_url) == before


def test_report_prints_the_weeks_as_text_csv_and_json(
    reminders: Reminders, enrolled: list[dict[str, Any]]
) -> None:
    text = reminders("report", "--weeks", "3")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["week", "of", "attended", "missed", "asked", "confirmed", "rate", "opt-outs",
                                "failed", "expired"]  # fmt: skip
    assert len(lines) == 5
    assert lines[-1] == f"weeks begin on Monday at 00:00 in {NEW_YORK}"
    as_csv = list(csv.reader(io.StringIO(reminders("report", "--csv", "--until", "2026-03-04").stdout)))
    assert [row[0] for row in as_csv] == ["week_start"] + [
        (date(2026, 3, 2) - timedelta(weeks=11 - n)).isoformat() for n in range(12)
    ]
    as_json = reminders.json("report", "--weeks", "2", "--until", "2026-03-09")
    assert [w["week_start"] for w in as_json["weeks"]] == ["2026-03-02", "2026-03-09"]
    assert as_json["weeks"][0]["confirmation_rate"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--weeks", "0"), "error: Invalid value for '--weeks': 0 is not in the range x>=1."),
        (("--weeks", "105"), "error: weeks must be from 1 to 104"),
        (
            ("--until", "2026-13-01"),
            "error: the until date must be a real date written YYYY-MM-DD, like 2026-03-01",
        ),
    ],
)
def test_report_refuses_bad_input_with_exit_2(
    reminders: Reminders, args: tuple[str, ...], message: str
) -> None:
    assert reminders("report", *args).assert_rejected() == message
