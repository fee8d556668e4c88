"""Shared helpers for the benchmarks: databases, seeding, the fake Twilio process, statistics.

Every benchmark is a script run as `.venv/bin/python bench/NAME.py`; this module sits next to them
on `sys.path` and puts the repository root there too, so `tests.support.fake_twilio` can be imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable
REMINDERS = str(Path(sys.executable).parent / "reminders")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FROM_NUMBER = "+12015550100"
# Zones tried for "it is daytime there now", so due texts pass the 09:00-20:00 send window.
ZONES = (
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Pacific/Honolulu",
    "Europe/Berlin",
    "America/Chicago",
)
# Reminders per patient when seeding a big backlog (a course plans about this many texts).
REMINDERS_PER_PATIENT = 25


def require(*modules: str) -> None:
    """Exit with a clear message when an optional benchmark dependency is missing."""
    missing = []
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit(
            f"bench: missing {', '.join(missing)}; install the benchmark extras with\n"
            f"    {Path(PYTHON).parent}/pip install matplotlib psutil"
        )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- statistics ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return float(ordered[index])


def write_json(path: str | None, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, default=str)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n", encoding="utf-8")


# -- the machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def postgres_version() -> str:
    from sqlalchemy import text

    from scheduler.store.db import make_engine

    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
        return version
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


def machine_info() -> dict[str, Any]:
    import sqlite3

    import psutil

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "sqlalchemy": version("SQLAlchemy"),
        "apscheduler": version("APScheduler"),
        "twilio": version("twilio"),
        "psycopg": version("psycopg"),
    }


# -- databases -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(backend: str, tag: str) -> Iterator[str]:
    """A new, migrated database (a SQLite file in a temp dir, or a `bench_*` PostgreSQL database),
    removed afterwards. Yields its URL."""
    from scheduler.store.db import upgrade

    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"bench_{tag}_"))
        url = f"sqlite:///{directory / 'reminders.db'}"
        try:
            upgrade(url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def backend_of(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def daytime_zone(now: datetime | None = None) -> str:
    """A zone where it is now well inside the send window (and stays so for an hour or more)."""
    from scheduler.domain.timeutil import to_local, zone

    now = now or datetime.now(UTC)
    for name in ZONES:
        if 10 <= to_local(now, zone(name)).hour < 17:
            return name
    raise RuntimeError("no zone in daytime")


def _sqlite_time(value: datetime) -> str:
    # How SQLAlchemy's SQLite DATETIME (through UTCDateTime) stores an instant: naive UTC text.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


PATIENT_COLUMNS = (
    "id",
    "name",
    "phone",
    "timezone",
    "protocol",
    "status",
    "touch_up_interval_days",
    "consent_source",
    "consent_at",
    "created_at",
    "updated_at",
)
REMINDER_COLUMNS = (
    "patient_id",
    "plan_key",
    "kind",
    "due_at",
    "status",
    "attempts",
    "created_at",
    "updated_at",
)


def bulk_insert(url: str, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> None:
    """Fast raw inserts: executemany in chunks on SQLite (instants as SQLAlchemy stores them),
    COPY on PostgreSQL."""
    from scheduler.store.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if backend_of(url) == "sqlite":
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            cursor.execute("BEGIN IMMEDIATE")
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row))
                if len(chunk) >= 50_000:
                    cursor.executemany(sql, chunk)
                    chunk.clear()
            if chunk:
                cursor.executemany(sql, chunk)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
    finally:
        raw.close()
        engine.dispose()


def finish_bulk_load(url: str) -> None:
    """After a bulk load: fix PostgreSQL's id sequences and refresh its planner statistics
    (autovacuum would do the latter within a minute of a load this size)."""
    if backend_of(url) != "postgresql":
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for table in ("patients", "reminders"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )
        conn.execute(text("VACUUM ANALYZE patients"))
        conn.execute(text("VACUUM ANALYZE reminders"))
    engine.dispose()


def seed_patients(url: str, count: int, tz: str, *, touch_ups: bool = True) -> None:
    """`count` active, consented patients with distinct numbers in `tz`. Without touch-ups the
    worker's start-up plan-ahead has nothing to book (a protocol with staff review afterwards)."""
    now = datetime.now(UTC)
    protocol, interval = ("iv-6x-mwf", 28) if touch_ups else ("esk-mdsi", None)
    rows = (
        (i + 1, f"Patient {i}", f"+1201{i:07d}", tz, protocol, "active", interval, "bench", now, now, now)
        for i in range(count)
    )
    bulk_insert(url, "patients", PATIENT_COLUMNS, rows)


def seed_due_welcomes(url: str, count: int, *, overdue: timedelta = timedelta(minutes=1)) -> None:
    """`count` patients in a daytime zone, each with a welcome text that fell due `overdue` ago."""
    now = datetime.now(UTC)
    seed_patients(url, count, daytime_zone(now), touch_ups=False)
    due = now - overdue
    rows = ((i + 1, "welcome", "welcome", due, "pending", 0, now, now) for i in range(count))
    bulk_insert(url, "reminders", REMINDER_COLUMNS, rows)
    finish_bulk_load(url)


def seed_future(url: str, count: int) -> None:
    """`count` pending reminders due between tomorrow and a year from now, 25 per patient."""
    now = datetime.now(UTC)
    patients = max(1, count // REMINDERS_PER_PATIENT)
    seed_patients(url, patients, "America/New_York", touch_ups=False)
    start, span = now + timedelta(days=1), timedelta(days=364).total_seconds()
    kinds = ("confirm", "prep", "day-of", "check-in")
    rows = (
        (
            i % patients + 1,
            f"bench-{i // patients}",
            kinds[i % 4],
            start + timedelta(seconds=(i * 7919) % count * span / count),
            "pending",
            0,
            now,
            now,
        )
        for i in range(count)
    )
    bulk_insert(url, "reminders", REMINDER_COLUMNS, rows)
    finish_bulk_load(url)


def reminder_statuses(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from scheduler.store.db import make_engine
    from scheduler.store.models import Reminder

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()
    engine.dispose()
    return {str(status): int(n) for status, n in rows}


# -- the fake Twilio, in its own process -------------------------------------------------------


@dataclass
class FakeStats:
    messages: int
    distinct_to: int
    posts: int
    first: float | None  # time.monotonic() of the first and last message recorded
    last: float | None
    pauses: int  # gaps of more than 0.5 s between two consecutive messages
    pause_seconds: float


class FakeServer:
    """`bench/fake_server.py` (tests.support.fake_twilio.FakeTwilio with a global latency) in a child
    process, so its HTTP handling does not share a GIL with the code being measured."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.proc = subprocess.Popen(
            [PYTHON, str(BENCH / "fake_server.py"), "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = json.loads(self._readline())
        self.base_url: str = hello["base_url"]
        self.account_sid: str = hello["account_sid"]
        self.auth_token: str = hello["auth_token"]
        self._lock = threading.Lock()

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Twilio process exited")
        return line

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            return self._readline()

    def stats(self) -> FakeStats:
        data = json.loads(self._ask("stats"))
        return FakeStats(**data)

    def reset(self) -> None:
        self._ask("reset")

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def wait_for(self, count: int, timeout: float, poll: float = 0.05) -> FakeStats:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats.messages >= count or time.monotonic() > deadline:
                return stats
            time.sleep(poll)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self._ask("quit")
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def base_env(url: str, **extra: str) -> dict[str, str]:
    """The environment for a `reminders` subprocess on `url`, with no inherited service settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_"))}
    for name in ("PUBLIC_BASE_URL", "DISPATCH_INTERVAL_SECONDS", "SEND_RATE_PER_SECOND", "PROTOCOLS_FILE"):
        env.pop(name, None)
    env.update(DATABASE_URL=url, SMS_BACKEND="console", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def twilio_env(url: str, fake: FakeServer, **extra: str) -> dict[str, str]:
    """The environment for a `reminders` subprocess: Twilio backend pointed at the fake."""
    env = base_env(url)
    env.update(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=fake.account_sid,
        TWILIO_AUTH_TOKEN=fake.auth_token,
        TWILIO_FROM_NUMBER=FROM_NUMBER,
        TWILIO_API_BASE_URL=fake.base_url,
        SEND_RATE_PER_SECOND="10000",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def twilio_client(fake: FakeServer) -> Any:
    """A plain twilio-python Client whose requests go to the fake (the project's redirecting
    HTTP client only rewrites scheme and host; it is the same HTTP stack the dispatcher uses)."""
    from twilio.rest import Client

    from scheduler.sms.twilio import RedirectingHttpClient

    http = RedirectingHttpClient(fake.base_url, timeout=10.0)
    return Client(
        fake.account_sid,
        fake.auth_token,
        http_client=http,
        environment={"TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token},
    )


# -- worker processes ----------------------------------------------------------------------------


class Workers:
    """`reminders worker` subprocesses; stopped with SIGTERM (the graceful path). Their logs go to
    files in `cwd` (a pipe nobody reads would fill up and block the worker's logging)."""

    def __init__(self, count: int, env: dict[str, str], cwd: str) -> None:
        self.logs = [Path(cwd) / f"worker-{i}.log" for i in range(count)]
        self.procs = []
        for log_path in self.logs:
            with log_path.open("w") as log_file:
                self.procs.append(
                    subprocess.Popen(
                        [REMINDERS, "worker"], env=env, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT
                    )
                )
        self.peak_rss = [0] * count

    def sample_rss(self) -> list[int]:
        import psutil

        current = []
        for i, proc in enumerate(self.procs):
            try:
                rss = int(psutil.Process(proc.pid).memory_info().rss)
            except psutil.Error:
                rss = 0
            self.peak_rss[i] = max(self.peak_rss[i], rss)
            current.append(rss)
        return current

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self, timeout: float = 60) -> list[str]:
        """SIGTERM every worker, wait, and return the tail of each one's log."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return [log_path.read_text(errors="replace")[-3000:] for log_path in self.logs]


def mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)
