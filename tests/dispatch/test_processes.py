"""Real processes: two `dispatch --once` at the same time, and a worker stopped by SIGTERM.

Each runs the installed `reminders` command with the Twilio backend pointed at a fake Twilio on
loopback, over reminders written straight into the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from scheduler.domain.timeutil import to_local, zone
from scheduler.store.db import make_engine
from scheduler.store.models import Patient, Reminder
from tests.fake_twilio import FakeTwilio

REMINDERS = Path(sys.executable).parent / "reminders"
ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney", "America/Los_Angeles",
         "Asia/Kolkata", "Pacific/Honolulu")  # fmt: skip


def daytime_zone() -> str:
    """A zone where it is now well inside the 09:00-20:00 send window."""
    now = datetime.now(UTC)
    for name in ZONES:
        if 10 <= to_local(now, zone(name)).hour < 18:
            return name
    raise AssertionError("no zone in daytime")


def seed_due_welcomes(database_url: str, count: int) -> list[str]:
    """`count` active patients, each with a welcome text due a minute ago. Returns the numbers."""
    now = datetime.now(UTC)
    tz = daytime_zone()
    phones = [f"+1201555{i:04d}" for i in range(count)]
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            insert(Patient),
            [
                {
                    "id": i + 1, "name": f"Patient {i}", "phone": phone, "timezone": tz,
                    "protocol": "iv-6x-mwf", "status": "active", "touch_up_interval_days": 28,
                    "consent_source": "test", "consent_at": now, "created_at": now, "updated_at": now,
                }
                for i, phone in enumerate(phones)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Reminder),
            [
                {
                    "patient_id": i + 1, "plan_key": "welcome", "kind": "welcome",
                    "due_at": now - timedelta(minutes=1), "status": "pending", "attempts": 0,
                    "created_at": now, "updated_at": now,
                }
                for i in range(count)
            ],
        )  # fmt: skip
    engine.dispose()
    return phones


def environment(database_url: str, fake: FakeTwilio) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=fake.account_sid,
        TWILIO_AUTH_TOKEN=fake.auth_token,
        TWILIO_FROM_NUMBER="+12015550100",
        TWILIO_API_BASE_URL=fake.base_url,
        SEND_RATE_PER_SECOND="5000",
        DISPATCH_INTERVAL_SECONDS="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def statuses(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()
    engine.dispose()
    return {str(status): int(n) for status, n in rows}


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
