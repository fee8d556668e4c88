"""Real processes: two `dispatch --once` at the same time, a worker stopped by SIGTERM, and two
workers behind a slow provider.

Each runs the installed `reminders` command with the Twilio backend pointed at a fake Twilio on
loopback, over reminders written straight into the database.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.config import Settings
from scheduler.services.metrics import Limits, status
from scheduler.store.db import database_for, make_engine
from scheduler.store.models import Message
from scheduler.store.uow import UnitOfWork
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import REMINDERS, environment, seed_due_welcomes, statuses


def test_two_dispatchers_started_together_send_each_text_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    with FakeTwilio() as fake:
        phones = seed_due_welcomes(database_url, 2000)
        env = environment(database_url, fake)
        procs = [
            subprocess.Popen(
                [str(REMINDERS), "dispatch", "--once", "--json"],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=240) for p in procs]
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err[-2000:]
            assert "database is locked" not in err
        sent_to = [m["to"] for m in fake.messages]
    assert sorted(sent_to) == sorted(phones)
    assert statuses(database_url) == {"sent": 2000}


def test_the_worker_stops_on_sigterm_with_nothing_left_sending(database_url: str, tmp_path: Path) -> None:
    with FakeTwilio() as fake:
        phones = seed_due_welcomes(database_url, 300)
        for phone in phones:
            fake.script(phone, delay=0.05)
        proc = subprocess.Popen(
            [str(REMINDERS), "worker"],
            env=environment(database_url, fake), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(fake.messages) < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        sent_at_fake = len(fake.messages)
    counts = statuses(database_url)
    assert "sending" not in counts
    assert counts.get("sent", 0) == sent_at_fake
    assert 20 <= sent_at_fake < 300
    assert counts["pending"] == 300 - sent_at_fake
    assert "finishing sends in flight" in err


@pytest.mark.parametrize("signal_to_send", [signal.SIGINT])
def test_ctrl_c_stops_the_worker_too(database_url: str, tmp_path: Path, signal_to_send: int) -> None:
    with FakeTwilio() as fake:
        proc = subprocess.Popen(
            [str(REMINDERS), "worker"],
            env=environment(database_url, fake), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.5)
        proc.send_signal(signal_to_send)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]


def test_workers_behind_a_slow_provider_stay_alive_and_share_the_backlog(
    database_url: str, tmp_path: Path
) -> None:
    """Twilio answering in 7 s: each worker claims only what it can send in its tick, so the second
    one takes the rest instead of idling; both show alive while they wait on Twilio; and ticks that
    outlast the interval fill no log with APScheduler's "skipped" warnings."""
    latency, texts = 7.0, 16
    settings = Settings()
    with FakeTwilio() as fake:
        phones = seed_due_welcomes(database_url, texts)
        for phone in phones:
            fake.script(phone, delay=latency)
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        procs = []
        for log in logs:
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [str(REMINDERS), "worker"], env=environment(database_url, fake), cwd=tmp_path,
                        stdout=out, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        try:
            time.sleep(latency * 1.5)  # every worker is in the middle of a send
            engine = make_engine(database_url)
            try:
                with UnitOfWork(database_for(engine)) as uow:
                    busy = status(uow.db, datetime.now(UTC), Limits.of(settings))
            finally:
                engine.dispose()
            deadline = time.monotonic() + 120
            while statuses(database_url).get("sent", 0) < texts and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
        per_number = Counter(str(m["to"]) for m in fake.messages)
    assert statuses(database_url) == {"sent": texts}
    assert set(per_number.values()) == {1}
    assert len(busy.workers) == 2
    assert all(w.alive_age_seconds < 2 * settings.heartbeat_interval_seconds for w in busy.workers), busy
    assert busy.workers_ticking == 2, busy
    senders = sent_by_worker(database_url)
    assert len(senders) == 2, senders  # both took a share
    assert max(senders.values()) <= texts - 4, senders
    text = "".join(log.read_text(errors="replace") for log in logs)
    assert "maximum number of running instances" not in text
    assert text.count("dispatch ticks outlast") <= 2, text


def sent_by_worker(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return Counter(
                str(w) for w in conn.scalars(select(Message.worker).where(Message.provider_sid.is_not(None)))
            )
    finally:
        engine.dispose()
