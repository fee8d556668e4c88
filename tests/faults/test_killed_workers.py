"""Four workers on PostgreSQL, one SIGKILLed and restarted every two seconds, ten times, over
10,000 texts.

Worker liveness is cut to test size through the settings (a heartbeat every second, gone after
ten), so the killed workers' claims come back within the test; `test_crash_recovery` does the same
with the product's own settings.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scheduler.domain.states import MessageStatus
from scheduler.store.db import make_engine
from scheduler.store.models import Message, Reminder
from tests.faults.harness import (
    ADOPTED,
    ON_POSTGRESQL,
    PRODUCT_WORKER,
    Workers,
    sent_record,
    texts_per_number,
    wait_until,
    wait_until_all_sent,
    worker_pid,
)
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import environment, seed_due_texts

PATIENTS = 10_000
WORKERS = 4
KILLS = 10
KILL_EVERY_SECONDS = 2.0
# The fake creates the message, then waits this long before answering: a kill in that gap leaves
# a text the provider has but the database does not know about.
LATENCY_SECONDS = 0.05
LIVENESS = {"HEARTBEAT_INTERVAL_SECONDS": "1", "WORKER_STALE_SECONDS": "10", "CLAIM_LEASE_SECONDS": "30"}
# Only a bound for a broken run: a healthy one settles in 1.5-4 minutes on a busy 2-core machine.
SETTLE_TIMEOUT_SECONDS = 420.0


def _in_flight(database_url: str, pid: int) -> tuple[int, int]:
    """(texts still claimed by the worker with this pid, its requests that were in flight)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            claimed = conn.scalar(
                select(func.count()).where(
                    Reminder.status == "sending", Reminder.claimed_by.like(f"%:{pid}:%")
                )
            )
            sending = conn.scalar(
                select(func.count()).where(
                    Message.status == MessageStatus.SUBMITTING, Message.worker.like(f"%:{pid}:%")
                )
            )
    finally:
        engine.dispose()
    return int(claimed or 0), int(sending or 0)


@pytest.mark.faults
@ON_POSTGRESQL
def test_workers_killed_mid_run_lose_no_text_and_resend_only_what_was_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    in_flight_at_kills: list[tuple[int, int]] = []
    with FakeTwilio() as fake:
        phones = seed_due_texts(database_url, PATIENTS)
        for phone in phones:
            fake.script(phone, delay=LATENCY_SECONDS)
        env = {**environment(database_url, fake), **LIVENESS}
        with Workers(PRODUCT_WORKER, env, tmp_path) as workers:
            workers.start(WORKERS)
            under_way = wait_until(lambda: len(fake.messages) >= 200, timeout=60, interval=0.1)
            assert under_way, workers.logs()[-3000:]
            for n in range(KILLS):
                time.sleep(KILL_EVERY_SECONDS)
                pid = workers.kill_and_restart(n % WORKERS)
                in_flight_at_kills.append(_in_flight(database_url, pid))
            assert len(fake.messages) < PATIENTS, "the run ended before the last kill; seed more texts"
            last = wait_until_all_sent(database_url, PATIENTS, SETTLE_TIMEOUT_SECONDS, workers)
            still_running = workers.running()
            codes = workers.stop()
            logs = workers.logs()
            killed = set(workers.killed_pids)
        sent = list(fake.messages)

    assert last == {"sent": PATIENTS}, last
    assert still_running, "a worker that was not killed died by itself"
    assert codes == [0] * WORKERS
    assert "Traceback" not in logs, logs[logs.find("Traceback") :][:3000]

    record = sent_record(database_url)
    per_number = texts_per_number(sent)
    # Nothing lost: every patient got the text.
    assert set(per_number) == set(phones)
    # Every text the provider has is on record (a duplicate is visible, never silent).
    recorded_sids = {sid for rows in record.messages.values() for _status, sid, _worker in rows if sid}
    assert {str(m["sid"]) for m in sent} <= recorded_sids
    # A second text only for a send in flight at a kill: the reminder was attempted again, and
    # the first attempt belonged to a killed worker.
    duplicates = {phone: n for phone, n in per_number.items() if n > 1}
    for phone, n in duplicates.items():
        rows = record.messages[phone]
        assert record.attempts[phone] > 1, (phone, rows)
        assert len(rows) >= n, (phone, rows)
        assert worker_pid(rows[0][2]) in killed, (phone, rows)
    # A text the provider had created before the kill was found by the in-doubt lookup and
    # recorded, not sent again (logged after the commit, by any worker, even one killed later).
    adopted = {record.message_phones[int(mid)] for mid in ADOPTED.findall(logs)}
    for phone in adopted:
        assert per_number[phone] == 1, (phone, record.messages[phone])
        assert worker_pid(record.messages[phone][0][2]) in killed, record.messages[phone]

    retried = sum(1 for rows in record.messages.values() if len(rows) > 1)
    stale = sum(
        1
        for rows in record.messages.values()
        for status, _sid, _w in rows
        if status == MessageStatus.SUBMITTING
    )
    print(
        f"\n[faults] kills={len(killed)} in-flight at kills (claims, sends)={in_flight_at_kills} "
        f"texts at fake={len(sent)} duplicates={len(duplicates)} adopted by lookup={len(adopted)} "
        f"reminders with a second attempt row={retried} attempt rows left in doubt={stale}"
    )
