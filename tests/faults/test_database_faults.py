"""The database misbehaving under running workers: PostgreSQL connections cut, and two workers
sharing one SQLite file."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.faults.harness import (
    ON_POSTGRESQL,
    ON_SQLITE,
    PRODUCT_WORKER,
    Workers,
    sent_record,
    texts_per_number,
    wait_until,
    wait_until_all_sent,
)
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import environment, seed_due_texts

SETTLE_TIMEOUT_SECONDS = 150.0


def _terminate_backends(database_url: str, application_name: str) -> int:
    """Cut every connection the workers hold (they connect with this application_name)."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": application_name},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(cut)


@pytest.mark.faults
@ON_POSTGRESQL
def test_workers_whose_postgresql_connections_are_cut_recover_and_send_each_text_once(
    database_url: str, tmp_path: Path
) -> None:
    # At 50 ms a request, 3 workers of 4 threads need at least 16 s for 4,000 texts: longer than
    # the cuts take, however fast the machine.
    patients, cuts = 4_000, 6
    # libpq reads PGAPPNAME: it marks the workers' connections (and only theirs) in pg_stat_activity.
    application_name = f"reminders-faults-{uuid.uuid4().hex[:8]}"
    cut_per_round: list[int] = []
    with FakeTwilio() as fake:
        phones = seed_due_texts(database_url, patients)
        for phone in phones:
            fake.script(phone, delay=0.05)
        # A batch whose connection is cut leaves its claims to the lease (the worker is alive):
        # the shortest lease the settings allow.
        env = {**environment(database_url, fake), "CLAIM_LEASE_SECONDS": "30", "PGAPPNAME": application_name}
        with Workers(PRODUCT_WORKER, env, tmp_path) as workers:
            workers.start(3)
            under_way = wait_until(lambda: len(fake.messages) >= 100, timeout=60, interval=0.1)
            assert under_way, workers.logs()[-3000:]
            for _ in range(cuts):
                cut_per_round.append(_terminate_backends(database_url, application_name))
                time.sleep(1.5)
            assert len(fake.messages) < patients, "the run ended before the last cut; seed more texts"
            last = wait_until_all_sent(database_url, patients, SETTLE_TIMEOUT_SECONDS, workers)
            still_running = workers.running()
            codes = workers.stop()
            logs = workers.logs()
        sent = list(fake.messages)

    assert sum(cut_per_round) > 0, "no worker connection was cut"
    assert last == {"sent": patients}, last
    assert still_running, "a worker died of a cut connection"
    assert codes == [0, 0, 0]
    per_number = texts_per_number(sent)
    assert set(per_number) == set(phones)
    assert set(per_number.values()) == {1}
    recorded = {sid for rows in sent_record(database_url).messages.values() for _st, sid, _w in rows if sid}
    assert {str(m["sid"]) for m in sent} <= recorded
    print(
        f"\n[faults] connections cut per round={cut_per_round} texts at fake={len(sent)} "
        f"operations that failed on a cut connection={logs.count('failed unexpectedly')} "
        f"dispatch ticks that failed={logs.count('raised an exception')} "
        f"adopted by lookup={logs.count('interrupted send found at the provider')}"
    )


@pytest.mark.faults
@ON_SQLITE
def test_two_workers_on_one_sqlite_file_send_each_text_once_without_database_is_locked(
    database_url: str, tmp_path: Path
) -> None:
    patients = 3_000
    with FakeTwilio() as fake:
        phones = seed_due_texts(database_url, patients)
        with Workers(PRODUCT_WORKER, environment(database_url, fake), tmp_path) as workers:
            workers.start(2)
            last = wait_until_all_sent(database_url, patients, SETTLE_TIMEOUT_SECONDS, workers)
            still_running = workers.running()
            codes = workers.stop()
            logs = workers.logs()
        sent = list(fake.messages)

    assert "database is locked" not in logs, logs[logs.find("database is locked") - 3000 :][:4000]
    assert "Traceback" not in logs, logs[logs.find("Traceback") :][:3000]
    assert last == {"sent": patients}, last
    assert still_running
    assert codes == [0, 0]
    per_number = texts_per_number(sent)
    assert set(per_number) == set(phones)
    assert set(per_number.values()) == {1}
    shares = [slot.log.read_text(errors="replace").count("sent reminder") for slot in workers.slots]
    print(f"\n[faults] texts at fake={len(sent)} sent by each worker={shares}")
