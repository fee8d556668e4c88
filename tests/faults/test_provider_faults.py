"""A fake Twilio that answers one request in five with 429 or 500 (creating nothing).

429s go back to pending with backoff; 500s become `unknown`, and the reconciler looks them up
after RECONCILE_AFTER_SECONDS (set to 2) and, not finding them, returns them to pending. The retry
policy (30 s backoff, failed after 5 attempts) is not a setting, so the workers run through
fault_worker.py with a test-sized one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.faults.harness import (
    ON_POSTGRESQL,
    RETRYING_WORKER,
    Workers,
    retry_policy,
    sent_record,
    texts_per_number,
    wait_until_all_sent,
)
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import environment, seed_due_texts

PATIENTS = 1_000
WORKERS = 2
FAULT_RATE = 0.2
# At 20% faults a text fails five times running with p = 0.2**5 (2 in 10,000): with the product's
# five attempts an occasional `failed` would be correct behaviour, not a bug. Twelve make it
# negligible, so the test can insist on everything sent.
MAX_ATTEMPTS = 12
SETTLE_TIMEOUT_SECONDS = 150.0


@pytest.mark.faults
@ON_POSTGRESQL
def test_a_provider_failing_one_request_in_five_still_gets_every_text_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    with FakeTwilio(fault_rate=FAULT_RATE, seed=7) as fake:
        phones = seed_due_texts(database_url, PATIENTS)
        env = {
            **environment(database_url, fake),
            **retry_policy(retry_base=0.5, max_attempts=MAX_ATTEMPTS),
            "CLAIM_LEASE_SECONDS": "30",
            "RECONCILE_AFTER_SECONDS": "2",
        }
        with Workers(RETRYING_WORKER, env, tmp_path) as workers:
            workers.start(WORKERS)
            last = wait_until_all_sent(database_url, PATIENTS, SETTLE_TIMEOUT_SECONDS, workers)
            still_running = workers.running()
            codes = workers.stop()
            logs = workers.logs()
        sent = list(fake.messages)
        answers = Counter(attempt.http_status for attempt in fake.attempts)

    assert last == {"sent": PATIENTS}, last
    assert still_running
    assert codes == [0] * WORKERS
    assert "Traceback" not in logs, logs[logs.find("Traceback") :][:3000]
    assert answers[429] > 0
    assert answers[500] > 0
    # Exactly once at the provider, to every patient.
    per_number = texts_per_number(sent)
    assert set(per_number) == set(phones)
    assert set(per_number.values()) == {1}
    # The database agrees: one attempt per text went out, with the provider's sid; every other
    # attempt is on record as refused (429) or as not found after a 500.
    record = sent_record(database_url)
    sids = {str(m["sid"]) for m in sent}
    for phone, rows in record.messages.items():
        accepted = [sid for _status, sid, _worker in rows if sid]
        assert len(accepted) == 1, (phone, rows)
        assert accepted[0] in sids, (phone, rows)
        others = Counter(status for status, sid, _worker in rows if not sid)
        assert set(others) <= {"failed", "not-sent"}, (phone, rows)
    retried = sum(1 for rows in record.messages.values() if len(rows) > 1)
    print(
        f"\n[faults] provider answers={dict(answers)} texts at fake={len(sent)} "
        f"texts that needed more than one attempt={retried} max attempts={max(record.attempts.values())} "
        f"reconciled={logs.count('reconciled reminder')}"
    )
