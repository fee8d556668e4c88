"""The reports' session tallies (`session_tallies`) are kept by the database: whatever writes a
session, the tallies of each quarter hour add up to the sessions themselves, on SQLite and
PostgreSQL; folding them changes no sum; and the migration that adds them counts the sessions
already booked."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, text

from scheduler.app import App
from scheduler.runner import add_jobs, make_dispatcher
from scheduler.services import EnrolRequest
from scheduler.store import tallies
from scheduler.store.db import downgrade, upgrade
from tests.support.sql import connected, write

Key = tuple[int, str, bool, bool]
COUNTED = "starts_at, status, confirm_requests_sent, confirmed_at"  # what a session is counted by


def sessions(app: App) -> Counter[Key]:
    """The sessions counted as the tallies count them, from the sessions themselves."""
    with connected(app) as db:
        rows = db.execute(text(f"SELECT {COUNTED} FROM appointments")).all()
    counted: Counter[Key] = Counter()
    for starts_at, status, sent, confirmed_at in rows:
        counted[_slot(starts_at), status, sent > 0, confirmed_at is not None] += 1
    return counted


def tallied(app: App) -> Counter[Key]:
    with connected(app) as db:
        rows = db.execute(text("SELECT slot, status, asked, confirmed, sessions FROM session_tallies")).all()
    summed: Counter[Key] = Counter()
    for slot, status, asked, confirmed, n in rows:
        summed[slot, status, bool(asked), bool(confirmed)] += n
    return +summed  # keys summing to nothing are no sessions


def _slot(starts_at: object) -> int:
    """The quarter hour of a start as read by plain SQL: naive UTC text on SQLite."""
    if isinstance(starts_at, str):
        starts_at = datetime.fromisoformat(starts_at)
    assert isinstance(starts_at, datetime)
    return tallies.slot_of(starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC))


def agree(app: App) -> Counter[Key]:
    """The tallies, after checking they add up to the sessions."""
    counted = tallied(app)
    assert counted == sessions(app)
    return counted


def enrol(app: App, phone: str = "+12015550140") -> tuple[int, list[int], list[int]]:
    """A patient, their sessions and their confirm requests, in order."""
    patient = app.clinic("test").enrol(
        EnrolRequest("Ana", phone, "America/New_York", "iv-6x-mwf", "2026-03-16 10:00", "form")
    )
    pid = patient.patient.id
    with connected(app) as db:
        ids = db.execute(
            text("SELECT id FROM appointments WHERE patient_id = :p ORDER BY starts_at"), {"p": pid}
        )
        confirms = db.execute(
            text(
                "SELECT r.id FROM reminders r JOIN appointments a ON a.id = r.appointment_id"
                " WHERE r.patient_id = :p AND r.kind = 'confirm' ORDER BY a.starts_at"
            ),
            {"p": pid},
        )
        return pid, list(ids.scalars()), list(confirms.scalars())


def test_the_tallies_follow_every_change_to_a_session(app: App) -> None:
    _, (first, second, third, *_), (ask, *_) = enrol(app)
    booked = agree(app)
    assert sum(booked.values()) == 7  # six sessions and the first touch-up
    assert {status for _, status, _, _ in booked} == {"scheduled"}

    # A confirm request goes out: the texts' count makes the session "asked".
    write(app, "UPDATE reminders SET status = 'sent' WHERE id = :i", i=ask)
    assert sum(n for (_, _, asked, _), n in agree(app).items() if asked) == 1
    write(app, "UPDATE reminders SET status = 'delivered' WHERE id = :i", i=ask)  # still one request
    write(
        app, "UPDATE appointments SET status = 'confirmed', confirmed_at = updated_at WHERE id = :i", i=first
    )
    assert _key(app, first)[3]
    assert agree(app)[_key(app, first)] == 1
    write(app, "UPDATE appointments SET status = 'attended' WHERE id = :i", i=first)
    write(app, "UPDATE appointments SET status = 'missed' WHERE id = :i", i=second)
    # Moved to another day: out of one quarter hour and into another.
    write(app, "UPDATE appointments SET starts_at = (SELECT starts_at FROM appointments WHERE id = :o)"
               " WHERE id = :i", i=third, o=second)  # fmt: skip
    rows = _rows(app)
    write(app, "UPDATE appointments SET notice = 'moved', revision = 1 WHERE id = :i", i=third)
    assert _rows(app) == rows  # nothing counted changed: no tally written
    write(app, "UPDATE appointments SET status = 'cancelled' WHERE id = :i", i=third)
    write(app, "DELETE FROM reminders WHERE appointment_id = :i", i=first)  # the count falls
    write(app, "DELETE FROM appointments WHERE id = :i", i=first)
    final = agree(app)
    assert sum(final.values()) == 6
    assert {status for _, status, _, _ in final} == {"scheduled", "missed", "cancelled"}


def test_folding_leaves_one_row_per_kind_of_session_and_every_sum(app: App) -> None:
    _, (first, second, *_), _ = enrol(app)
    enrol(app, "+12015550141")
    for status in ("confirmed", "attended", "missed", "attended"):
        write(app, "UPDATE appointments SET status = :s WHERE id IN (:a, :b)", s=status, a=first, b=second)
    before = agree(app)
    with connected(app) as db:
        rows = db.execute(text("SELECT count(*) FROM session_tallies")).scalar_one()
    assert rows > len(before)

    assert tallies.fold(app.engine) == len({slot for slot, *_ in before})
    assert agree(app) == before
    with connected(app) as db:
        left = db.execute(
            text("SELECT slot, status, asked, confirmed, sessions, folded FROM session_tallies")
        )
        rows_left = left.all()
    assert len(rows_left) == len(before)  # one per kind of session, none of them zero
    assert all(folded and n > 0 for *_, n, folded in rows_left)
    assert tallies.fold(app.engine) == 0  # nothing new to fold

    write(app, "UPDATE appointments SET status = 'cancelled' WHERE id = :i", i=first)
    assert tallies.fold(app.engine) == 1  # only the quarter hour that changed
    assert agree(app) != before


def test_a_fold_takes_a_bounded_number_of_quarter_hours_at_a_time(app: App) -> None:
    enrol(app)
    slots = len(agree(app))
    assert tallies.fold(app.engine, most=2) == 2
    assert tallies.fold(app.engine, most=2) == 2
    assert tallies.fold(app.engine, most=slots) == slots - 4
    assert tallies.fold(app.engine) == 0
    agree(app)


def test_sessions_written_while_a_fold_runs_are_kept(app: App) -> None:
    """PostgreSQL: a session changed in a transaction still open while the fold commits."""
    if not app.settings.database_url.startswith("postgresql"):
        pytest.skip("concurrent writers: SQLite has one at a time")
    _, (first, *_), _ = enrol(app)
    engine = create_engine(app.settings.database_url)
    try:
        with engine.connect() as writer:
            writer.execute(text("UPDATE appointments SET status = 'missed' WHERE id = :i"), {"i": first})
            folded = threading.Thread(target=tallies.fold, args=(app.engine,))
            folded.start()
            folded.join(timeout=30)
            assert not folded.is_alive()  # the fold did not wait for the writer
            writer.commit()
    finally:
        engine.dispose()
    assert any(status == "missed" for _, status, _, _ in agree(app))
    tallies.fold(app.engine)
    agree(app)


def test_the_worker_folds_the_tallies(app: App) -> None:
    enrol(app)
    scheduler = BackgroundScheduler(timezone="UTC")
    dispatcher = make_dispatcher(app)
    try:
        add_jobs(scheduler, app, dispatcher)
        job = next(job for job in scheduler.get_jobs() if job.id == "fold-tallies")
        job.func()
    finally:
        dispatcher.close()
    with connected(app) as db:
        assert db.execute(text("SELECT count(*) FROM session_tallies WHERE NOT folded")).scalar_one() == 0
    agree(app)


def test_the_migration_tallies_the_sessions_already_booked(app: App) -> None:
    _, (first, *_), _ = enrol(app)
    url = app.settings.database_url
    try:
        downgrade(url, "0014")
        write(app, "UPDATE appointments SET status = 'attended' WHERE id = :i", i=first)  # not tallied
    finally:
        upgrade(url)
    counted = agree(app)
    assert counted[_key(app, first)] == 1
    write(app, "UPDATE appointments SET status = 'missed' WHERE id = :i", i=first)
    agree(app)


def test_the_tallies_are_kept_whatever_the_search_path_of_the_writer(app: App) -> None:
    if not app.settings.database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL search path")
    _, (first, *_), _ = enrol(app)
    with connected(app) as db:
        schema = db.execute(text("SELECT current_schema()")).scalar_one()
        db.execute(text("SELECT set_config('search_path', '', true)"))
        db.execute(
            text(f"UPDATE \"{schema}\".appointments SET status = 'missed' WHERE id = :i"), {"i": first}
        )
    assert any(status == "missed" for _, status, _, _ in agree(app))


def _key(app: App, session: int) -> Key:
    with connected(app) as db:
        row = db.execute(text(f"SELECT {COUNTED} FROM appointments WHERE id = :i"), {"i": session}).one()
    return _slot(row[0]), row[1], row[2] > 0, row[3] is not None


def _rows(app: App) -> int:
    with connected(app) as db:
        return int(db.execute(text("SELECT count(*) FROM session_tallies")).scalar_one())


def test_a_recount_writes_the_tallies_afresh_from_the_sessions(app: App) -> None:
    """As after a load with triggers off: the tallies are wrong until counted again."""
    _, (first, *_), _ = enrol(app)
    write(app, "DELETE FROM session_tallies")
    write(app, "UPDATE appointments SET status = 'attended' WHERE id = :i", i=first)
    assert tallied(app) != sessions(app)
    with app.engine.begin() as db:
        tallies.recount(db)
    agree(app)
    assert tallies.fold(app.engine) == 0  # written folded
