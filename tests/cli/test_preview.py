"""`reminders preview`: the course as the patient will live it, writing nothing; and the warnings
changing commands give for odd times (exit 0, one `warning:` line each on stderr)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from scheduler.domain.states import Language
from scheduler.domain.templates import LIMITS
from tests.cli.harness import Reminders, clean_environment, first_monday, row_counts, wall_clock

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NEW_YORK = "America/New_York"


def next_spring_forward(after: date) -> date:
    """The next second Sunday of March (when New York's clocks go forward) after `after`."""
    year = after.year if after < date(after.year, 3, 1) else after.year + 1
    march = date(year, 3, 1)
    first_sunday = march + timedelta(days=(6 - march.weekday()) % 7)
    return first_sunday + timedelta(days=7)


def test_preview_shows_every_session_and_message_and_writes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "reminders.db"
    command = Reminders(tmp_path, clean_environment(DATABASE_URL=f"sqlite:///{database}"))
    monday = first_monday(NEW_YORK)
    result = command("preview", "--first", wall_clock(monday, "10:00"), "--timezone", NEW_YORK, "--json")
    assert result.returncode == 0, result.stderr
    assert not database.exists()
    plan = result.json()
    assert set(plan) == {"appointments", "texts", "warnings"}
    assert plan["warnings"] == []
    assert [set(a) for a in plan["appointments"]] == [{"kind", "number", "starts_at", "local_start"}] * 7
    assert [a["kind"] for a in plan["appointments"]] == ["induction"] * 6 + ["touch-up"]
    for text in plan["texts"]:
        assert set(text) == {"due_at", "local_due", "kinds", "body", "segments", "encoding"}
        assert 1 <= text["segments"] <= LIMITS[Language.EN].combined
        assert text["encoding"] == "GSM-7"
        assert text["body"].startswith("Oak St Clinic: ")
        assert 9 <= int(text["local_due"][11:13]) < 20
    days = [t["local_due"][:10] for t in plan["texts"] if t["kinds"] != ["welcome"]]
    assert len(days) == len(set(days))  # one message a day
    tuesday = (monday + timedelta(days=1)).isoformat()
    [check_in] = [t for t in plan["texts"] if t["local_due"].startswith(tuesday)]
    assert check_in["kinds"] == ["check-in", "prep"]
    assert check_in["body"].endswith("Reply C to confirm or R to change.")

    shown = command("preview", "--first", wall_clock(monday, "10:00"), "--timezone", NEW_YORK)
    assert shown.returncode == 0, shown.stderr
    assert "check-in + prep  (2 GSM-7 segments)" in shown.stdout


def test_preview_in_spanish_shows_spanish_bodies_with_their_segment_counts(tmp_path: Path) -> None:
    command = Reminders(tmp_path, clean_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}"))
    monday = first_monday(NEW_YORK)
    first = wall_clock(monday, "10:00")
    plan = command.json("preview", "--first", first, "--timezone", NEW_YORK, "--language", "es")
    bodies = {" + ".join(t["kinds"]): t for t in plan["texts"]}
    welcome = bodies["welcome"]
    assert "Responda AYUDA para ayuda o PARAR" in welcome["body"]
    assert (welcome["segments"], welcome["encoding"]) == (2, "GSM-7")
    check_in_and_prep = bodies["check-in + prep"]
    assert check_in_and_prep["body"].startswith(
        "Oak St Clinic: Hoy descanse. ¿Dudas? Llame al (201) 555-0100."
    )
    assert "Le esperamos el" in check_in_and_prep["body"]
    assert check_in_and_prep["body"].endswith("Responda C para confirmar o R para cambiarla.")
    for text in plan["texts"]:
        assert 1 <= text["segments"] <= LIMITS[Language.ES].combined
        assert "Reply" not in text["body"]
    refused = command("preview", "--first", first, "--timezone", NEW_YORK, "--language", "fr")
    assert "language must be en or es" in refused.assert_rejected()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "iv-99x"], "unknown protocol"),
        (["--timezone", "Mars/Olympus"], "unknown timezone"),
        (["--first", "2020-01-06 10:00"], "in the past"),
        (["--first", "next monday"], "is not a time like"),
    ],
    ids=["protocol", "timezone", "past", "malformed"],
)
def test_preview_refuses_bad_input_with_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    command = Reminders(tmp_path, clean_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}"))
    given = {"--first": wall_clock(first_monday(NEW_YORK)), "--timezone": NEW_YORK}
    given.update(zip(args[::2], args[1::2], strict=True))
    result = command("preview", *(part for pair in given.items() for part in pair))
    assert message in result.assert_rejected()


@SQLITE_ONLY
def test_enrolling_at_a_time_that_does_not_exist_warns_and_enrols(
    reminders: Reminders, database_url: str
) -> None:
    sunday = next_spring_forward(first_monday(NEW_YORK, days_ahead=0))
    if sunday > first_monday(NEW_YORK, days_ahead=360):
        pytest.skip("the next change to summer time is more than a year away")
    result = reminders(
        "enrol", "--name", "Ann Example", "--phone", "(201) 555-0123", "--timezone", NEW_YORK,
        "--first", wall_clock(sunday, "02:30"), "--consent", "form", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {sunday} 02:30 does not exist in {NEW_YORK} (the clocks go forward that night); "
        "the session is at 03:30",
        f"warning: {sunday} is a Sunday, a day the clinic is closed",
    ]
    assert result.json()["warnings"] == [w.removeprefix("warning: ") for w in warnings]
    assert row_counts(database_url)["patients"] == 1


def test_templates_lists_each_text_with_a_sample_and_its_segments(tmp_path: Path) -> None:
    command = Reminders(tmp_path, clean_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}"))
    entries = command.json("templates", "--language", "es")
    assert {e["language"] for e in entries} == {"es"}
    by_name = {e["name"]: e for e in entries}
    assert by_name["welcome"]["sample"].startswith("Oak St Clinic: Le enviaremos recordatorios")
    for entry in entries:
        assert entry["segments"] <= entry["longest_segments"] <= entry["limit"] == 2
        assert entry["encoding"] == "GSM-7"
        assert not entry["own"]
    shown = command("templates")
    assert shown.returncode == 0, shown.stderr
    assert "[en] prep:iv: 1 GSM-7 segment; at most 1 of 1 allowed" in shown.stdout
    assert "[es] prep:iv: 2 GSM-7 segments; at most 2 of 2 allowed" in shown.stdout


def test_a_clinics_own_wording_is_listed_and_a_bad_one_stops_every_command(tmp_path: Path) -> None:
    own = tmp_path / "texts.toml"
    own.write_text('[es]\n"check-in" = "Descanse hoy. ¿Dudas? {phone}. Emergencias: {emergency}."\n')
    env = clean_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", TEMPLATES_FILE=str(own))
    command = Reminders(tmp_path, env)
    entries = {(e["language"], e["name"]): e for e in command.json("templates")}
    assert entries[("es", "check-in")]["own"]
    assert "Descanse hoy" in entries[("es", "check-in")]["sample"]
    # "¿" is GSM-7, "í" is not: the whole text is UCS-2 then, and checked at that size.
    own.write_text(
        '[es]\n"prep:iv" = "Cita {day}, {time}. No coma. Traiga líquidos claros. ' + "Gracias. " * 12 + '"\n'
    )
    for args in (("templates",), ("preview", "--first", "2030-01-07 10:00", "--timezone", NEW_YORK)):
        line = command(*args).assert_rejected()
        assert "TEMPLATES_FILE" in line
        assert "[es] prep:iv is" in line
        assert "UCS-2" in line
