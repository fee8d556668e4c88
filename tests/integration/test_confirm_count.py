"""A session's count of confirm requests that went out (`appointments.confirm_requests_sent`, the
weekly reports' confirmation figures) is kept by the database: whatever writes a text, the count
equals the texts' own, on SQLite and PostgreSQL; and the migration that adds it counts the texts
already sent."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from scheduler.app import App
from scheduler.services import EnrolRequest
from scheduler.store.db import downgrade, upgrade
from tests.support.sql import connected, write

RECOUNT = text(
    "SELECT a.id, a.confirm_requests_sent, (SELECT count(*) FROM reminders r WHERE r.appointment_id = a.id"
    " AND r.kind = 'confirm' AND r.status IN ('sent', 'delivered')) FROM appointments a ORDER BY a.id"
)


def counts(app: App) -> dict[int, int]:
    """Each session's count, after checking it against a count of its texts."""
    with connected(app) as db:
        rows = db.execute(RECOUNT).all()
    assert [(i, kept) for i, kept, _ in rows] == [(i, texts) for i, _, texts in rows]
    return {i: kept for i, kept, _ in rows if kept}


def enrol(app: App) -> tuple[list[int], list[int]]:
    """A patient's sessions and their confirm requests, in order."""
    patient = app.clinic("test").enrol(
        EnrolRequest("Ana", "+12015550140", "America/New_York", "iv-6x-mwf", "2026-03-16 10:00", "form")
    )
    with connected(app) as db:
        confirms = db.execute(
            text(
                "SELECT r.id FROM reminders r JOIN appointments a ON a.id = r.appointment_id"
                " WHERE r.patient_id = :p AND r.kind = 'confirm' ORDER BY a.starts_at"
            ),
            {"p": patient.patient.id},
        ).scalars()
        sessions = db.execute(
            text("SELECT id FROM appointments WHERE patient_id = :p ORDER BY starts_at"),
            {"p": patient.patient.id},
        ).scalars()
        return list(sessions), list(confirms)


def test_the_count_follows_every_change_of_a_confirm_request(app: App) -> None:
    (first, second, *_), (ask, ask_second, *_) = enrol(app)
    assert counts(app) == {}

    for status in ("sending", "unknown"):  # claimed, then a send whose outcome is not known
        write(app, "UPDATE reminders SET status = :s WHERE id = :i", s=status, i=ask)
        assert counts(app) == {}
    write(app, "UPDATE reminders SET status = 'sent' WHERE id = :i", i=ask)
    assert counts(app) == {first: 1}
    write(app, "UPDATE reminders SET status = 'delivered' WHERE id = :i", i=ask)
    assert counts(app) == {first: 1}
    write(app, "UPDATE reminders SET status = 'failed' WHERE id = :i", i=ask)  # not delivered after all
    assert counts(app) == {}

    # One statement sending both, then one asking again for the first session (a new time).
    write(app, "UPDATE reminders SET status = 'sent' WHERE id IN (:a, :b)", a=ask, b=ask_second)
    assert counts(app) == {first: 1, second: 1}
    write(
        app,
        "INSERT INTO reminders (patient_id, appointment_id, plan_key, kind, due_at, status, attempts,"
        " created_at, updated_at) SELECT patient_id, appointment_id, 'again', kind, due_at, 'delivered',"
        " 1, created_at, updated_at FROM reminders WHERE id = :i",
        i=ask,
    )
    assert counts(app) == {first: 2, second: 1}
    write(app, "UPDATE reminders SET appointment_id = :a WHERE id = :i", a=second, i=ask)
    assert counts(app) == {first: 1, second: 2}
    write(app, "UPDATE reminders SET kind = 'prep' WHERE id = :i", i=ask_second)
    assert counts(app) == {first: 1, second: 1}
    write(app, "DELETE FROM reminders WHERE plan_key = 'again'")
    assert counts(app) == {second: 1}


def test_the_migration_counts_the_requests_already_sent(app: App) -> None:
    (first, second, *_), (ask, ask_second, *_) = enrol(app)
    write(app, "UPDATE reminders SET status = 'delivered' WHERE id = :i", i=ask)
    url = app.settings.database_url
    older = "0013"  # before the count
    try:
        downgrade(url, older)
        # Sent while the count was not kept.
        write(app, "UPDATE reminders SET status = 'sent' WHERE id = :i", i=ask_second)
    finally:
        upgrade(url)
    assert counts(app) == {first: 1, second: 1}
    write(app, "UPDATE reminders SET status = 'failed' WHERE id = :i", i=ask)
    assert counts(app) == {second: 1}


def test_the_count_is_kept_whatever_the_search_path_of_the_writer(app: App) -> None:
    """pg_dump and pg_restore clear the search path; the count still finds the sessions."""
    if not app.settings.database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL search path")
    (first, *_), (ask, *_) = enrol(app)
    with connected(app) as db:
        schema = db.execute(text("SELECT current_schema()")).scalar_one()
        db.execute(text("SELECT set_config('search_path', '', true)"))
        db.execute(text(f"UPDATE \"{schema}\".reminders SET status = 'sent' WHERE id = :i"), {"i": ask})
    assert counts(app) == {first: 1}
