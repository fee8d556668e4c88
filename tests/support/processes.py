"""Real processes of the installed `reminders` command, and the database rows they start from."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from scheduler.domain.timeutil import to_local, zone
from scheduler.store.db import make_engine
from scheduler.store.models import Patient, Reminder
from tests.support.fake_twilio import FakeTwilio

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


def seed_due_texts(database_url: str, count: int) -> list[str]:
    """`count` patients with a welcome due now, on a protocol without automatic touch-ups.

    Every worker books touch-ups for every active patient when it starts (one transaction per
    patient: about 13 s of CPU for 10,000 patients on this machine). The fault tests restart
    workers often and are about sending, so their patients have nothing for that job to do.
    """
    phones = seed_due_welcomes(database_url, count)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(Patient).values(protocol="esk-mdsi", touch_up_interval_days=None))
    finally:
        engine.dispose()
    return phones


def environment(database_url: str, fake: FakeTwilio) -> dict[str, str]:
    """The environment of a `reminders` process that sends through `fake`."""
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
    """How many reminders have each status."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()
    engine.dispose()
    return {str(status): int(n) for status, n in rows}
