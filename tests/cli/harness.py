"""Driving the installed `reminders` command in a subprocess, and looking at its database.

The command reads the real system clock, so session times are built from today's date in the
patient's zone. The database is read directly (SQLAlchemy Core) to prove that a rejected command
wrote nothing. Patients a test only needs as a starting point are enrolled through the services
in-process (same code path as `reminders enrol`, without the cost of a process start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select

from scheduler.app import build
from scheduler.config import Settings
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.store.models import Base

REMINDERS = Path(sys.executable).parent / "reminders"
TIMEOUT_SECONDS = 60

# Every setting the design documents (and the debug switch), so a developer's shell cannot leak in.
SETTINGS_VARS = frozenset(
    {
        "DATABASE_URL",
        "PUBLIC_BASE_URL",
        "CLINIC_NAME",
        "CLINIC_PHONE",
        "CLINIC_TIMEZONE",
        "CLINIC_CLOSED_DAYS",
        "DEFAULT_PHONE_REGION",
        "SEND_WINDOW",
        "DAILY_TEXT_LIMIT",
        "DISPATCH_INTERVAL_SECONDS",
        "SEND_RATE_PER_SECOND",
        "HEARTBEAT_INTERVAL_SECONDS",
        "WORKER_STALE_SECONDS",
        "CLAIM_LEASE_SECONDS",
        "RECONCILE_AFTER_SECONDS",
        "SECRET_KEY",
        "PROTOCOLS_FILE",
        "CLINIC_EMERGENCY_NUMBER",
        "CLINIC_CRISIS_LINE",
        "STAFF_ALERT_PHONE",
        "STAFF_ALERT_WEBHOOK_URL",
        "STAFF_ALERT_WEBHOOK_SECRET",
        "EVENT_WEBHOOK_URL",
        "EVENT_WEBHOOK_SECRET",
        "SESSION_IDLE_MINUTES",
        "SESSION_MAX_HOURS",
        "ALLOWED_HOSTS",
        "ENV_FILE",
        "TEMPLATES_FILE",
        "REMINDERS_DEBUG",
    }
)
SETTINGS_PREFIXES = ("TWILIO_", "SMS_")

CLOSED_DAYS = frozenset({5, 6})  # the default CLINIC_CLOSED_DAYS: Saturday and Sunday
SEND_WINDOW_HOURS = range(9, 20)  # the default SEND_WINDOW, 09:00-20:00

# Zones whose offsets between them cover every hour of the day.
ZONES_AROUND_THE_WORLD = (
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "America/Noronha",
    "Atlantic/Cape_Verde",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
)


def clean_environment(**settings: str) -> dict[str, str]:
    """The process environment without any of the service's settings, plus `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_VARS and not key.startswith(SETTINGS_PREFIXES)
    }
    env["SMS_BACKEND"] = "console"
    env.update(settings)
    return env


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, f"{self.args} exited {self.returncode}: {self.stderr}"
        return json.loads(self.stdout)

    def assert_rejected(self, code: int = 2) -> str:
        """Exit `code`, nothing on stdout, one `error: ...` line on stderr; returns that line."""
        assert self.returncode == code, (
            f"{self.args} exited {self.returncode}, expected {code}\n"
            f"stdout: {self.stdout}\nstderr: {self.stderr}"
        )
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"{self.args}: expected one line on stderr, got:\n{self.stderr}"
        assert lines[0].startswith("error: "), lines[0]
        assert self.stdout == "", self.stdout
        return lines[0]


class Reminders:
    """The installed `reminders` command, run in `cwd` with a clean environment."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = dict(env)

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        return self.run([str(REMINDERS), *args], args, env)

    def module(self, *args: str) -> Result:
        """`python -m scheduler ARGS`."""
        return self.start_module(*args).wait()

    def json(self, *args: str) -> Any:
        """Run a command with `--json`, require success and return what it printed."""
        return self(*args, "--json").json()

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> Running:
        """Start a command without waiting for it, so that independent commands overlap."""
        return self.spawn([str(REMINDERS), *args], args, env)

    def start_module(self, *args: str) -> Running:
        return self.spawn([sys.executable, "-m", "scheduler", *args], args)

    def run(self, argv: list[str], args: tuple[str, ...], env: Mapping[str, str] | None = None) -> Result:
        return self.spawn(argv, args, env).wait()

    def spawn(self, argv: list[str], args: tuple[str, ...], env: Mapping[str, str] | None = None) -> Running:
        process = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        return Running(tuple(args), process)


@dataclass(frozen=True)
class Running:
    args: tuple[str, ...]
    process: subprocess.Popen[str]

    def wait(self) -> Result:
        try:
            stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise
        return Result(self.args, self.process.returncode, stdout, stderr)


# -- times ---------------------------------------------------------------------------------------


def open_day(day: date) -> date:
    """`day`, or the next day the clinic is open (with the default closed days)."""
    while day.weekday() in CLOSED_DAYS:
        day += timedelta(days=1)
    return day


def first_monday(tz: str, days_ahead: int = 10) -> date:
    """The first Monday at least `days_ahead` days after today in `tz`."""
    day = datetime.now(ZoneInfo(tz)).date() + timedelta(days=days_ahead)
    return day + timedelta(days=-day.weekday() % 7)


def wall_clock(day: date, at: str = "10:00") -> str:
    """A time as the CLI takes it: "YYYY-MM-DD HH:MM"."""
    return f"{day.isoformat()} {at}"


def local_iso(day: date, hour: int, minute: int, tz: str) -> str:
    """The ISO 8601 form of a wall-clock time in `tz`, with the offset in force then."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz)).isoformat()


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def zone_outside_send_window() -> str:
    """A zone where it is now well outside the send window (21:00-08:00 local)."""
    now = datetime.now(UTC)
    for name in ZONES_AROUND_THE_WORLD:
        hour = now.astimezone(ZoneInfo(name)).hour
        if hour >= 21 or hour < 8:
            return name
    raise AssertionError("no zone is at night right now")  # pragma: no cover - offsets cover 24 h


# -- the database --------------------------------------------------------------------------------


Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(database_url: str) -> Snapshot:
    """Every row of every table, in primary-key order."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def row_counts(database_url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot(database_url).items()}


def enrol_directly(
    database_url: str,
    *,
    first: str,
    name: str = "Ann Example",
    phone: str = "+12015550123",
    timezone: str = "America/Chicago",
    protocol: str = "iv-6x-mwf",
) -> dict[str, Any]:
    """Set-up shortcut: enrol through the services (with the real clock), not a subprocess."""
    app = build(Settings(database_url=database_url, sms_backend="console"))
    try:
        request = EnrolRequest(name, phone, timezone, protocol, first, "intake-form")
        detail: dict[str, Any] = to_json(app.clinic("test-setup").enrol(request))
        return detail
    finally:
        app.close()


def by_id(items: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in items}
