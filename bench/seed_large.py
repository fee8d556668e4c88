"""Seed a large clinic in PostgreSQL: 100,000 patients with their courses, about 2 million
reminders and the message history a year of sending leaves.

Every patient is planned by the real code: `course.initial_sessions` books their sessions and
`Planner.new_patient_reminders` plans their texts, as enrolment does. First sessions spread from a
year ago to a month ahead (enrolled a few days before), so most courses are partly or wholly in
the past: past sessions attended (some missed), past texts delivered (a few failed, each with its
message row), later ones pending. Some patients are discharged, paused, opted out or flagged;
about one in five has replied. The rows go in with COPY (foreign-key triggers off for the load,
as `pg_restore` does), then the id sequences are set and the tables analysed.

The database is `bench_large_<patients>` on BENCH_POSTGRES_URL, made afresh (migrated to head)
and kept for `pages.py`; `--drop` removes it.

    .venv/bin/python bench/seed_large.py [--patients 100000] [--drop]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c

# The tables in load order, each with the columns written.
TABLES: dict[str, tuple[str, ...]] = {
    "patients": (
        "id", "name", "phone", "timezone", "protocol", "status", "touch_up_interval_days",
        "consent_source", "consent_at", "opted_out_at", "phone_invalid_at", "language",
        "external_id", "created_at", "updated_at",
    ),
    "appointments": (
        "id", "patient_id", "kind", "number", "starts_at", "status", "revision", "booked_at",
        "confirmed_at", "created_at", "updated_at",
    ),
    "reminders": (
        "id", "patient_id", "appointment_id", "plan_key", "kind", "due_at", "deadline", "status",
        "reason", "attempts", "provider_sid", "error_code", "sent_at", "message_id", "created_at",
        "updated_at",
    ),
    "messages": (
        "id", "reminder_id", "patient_id", "to", "body", "status", "provider_sid", "error_code",
        "worker", "created_at", "updated_at",
    ),
    "replies": ("id", "patient_id", "from_number", "body", "intent", "urgent", "handled_at", "received_at"),
    "audit_log": ("id", "at", "actor", "action", "patient_id", "details"),
}  # fmt: skip
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix")
PROTOCOLS = ("iv-6x-mwf", "iv-6x-mwf", "iv-6x-2w", "esk-trd", "esk-mdsi", "touch-up-only")
FIRST_NAMES = ("Alex", "Maria", "Sam", "Jordan", "Priya", "Chen", "Fatima", "Luis", "Grace", "Omar")
LAST_NAMES = ("Rivera", "Smith", "Nguyen", "Okafor", "Garcia", "Kowalski", "Haddad", "Lee", "Brown", "Silva")
BODIES = {
    "welcome": "Oak St Clinic: you're signed up for visit reminders, about 4 texts a week. Reply HELP "
    "for help, STOP to opt out.",
    "confirm": "Oak St Clinic: your visit is Mon Mar 9 at 10:00 AM. Reply C to confirm or R to reschedule.",
    "prep": "Oak St Clinic: visit tomorrow at 10:00 AM. Please arrange a ride home; no driving after.",
    "day-of": "Oak St Clinic: see you today at 10:00 AM. Reply R if you need to reschedule.",
    "check-in": "Oak St Clinic: how are you feeling after your visit? Reply anytime; we read every text.",
}
REPLIES = (("C", "confirm"), ("Yes see you then", "other"), ("R", "change"), ("HELP", "help"))


def _cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


class Writer:
    """Rows for COPY's text format, one temporary file per table."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.files = {t: (folder / f"{t}.{suffix}.tsv").open("w", encoding="utf-8") for t in TABLES}
        self.counts = dict.fromkeys(TABLES, 0)

    def row(self, table: str, *values: Any) -> None:
        self.files[table].write("\t".join(_cell(v) for v in values) + "\n")
        self.counts[table] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()


class Clinic:
    """Plans patients with the real code and writes their rows; ids in blocks per patient, so that
    chunks of patients can be planned in parallel processes."""

    SESSIONS, TEXTS = 32, 64  # most sessions and texts one patient gets here (ids per patient)

    def __init__(self, writer: Writer, now: datetime, seed: int) -> None:
        from scheduler.config import Settings
        from scheduler.domain.protocols import load_protocols
        from scheduler.services.planning import Planner

        self.writer, self.now, self.rng = writer, now, random.Random(seed)
        self.settings = Settings.from_env({})
        self.protocols = load_protocols(None)
        self.planner = Planner(self.settings, self.protocols)

    def patient(self, pid: int) -> None:
        from scheduler.domain.timeutil import to_local, to_utc, zone

        rng, now = self.rng, self.now
        tz_name = ZONES[pid % len(ZONES)]
        tz = zone(tz_name)
        protocol = self.protocols[PROTOCOLS[pid % len(PROTOCOLS)]]
        interval = 28 if protocol.touch_up_days else None
        first_utc = now + timedelta(days=rng.uniform(-365, 30))
        first_local = to_local(first_utc, tz).replace(hour=9 + pid % 8, minute=15 * (pid % 4), second=0)
        first_local = first_local.replace(microsecond=0)
        enrolled = to_utc(first_local, tz) - timedelta(days=rng.uniform(1, 5))
        enrolled = min(now - timedelta(minutes=5), enrolled)
        roll = rng.random()
        status = "discharged" if roll < 0.08 else "paused" if roll < 0.11 else "active"
        later = enrolled + timedelta(days=3)
        opted_out = later if 0.11 <= roll < 0.13 and later < now else None
        invalid = later if 0.13 <= roll < 0.135 and later < now else None
        phone = f"+1201{5550000 + pid:07d}"
        name = f"{FIRST_NAMES[pid % 10]} {LAST_NAMES[pid // 10 % 10]} {pid}"
        language = "es" if pid % 9 == 0 else "en"
        self.writer.row(
            "patients", pid, name, phone, tz_name, protocol.id, status, interval, "intake-form", enrolled,
            opted_out, invalid, language, f"MRN{pid:07d}", enrolled, max(enrolled, opted_out or enrolled),
        )  # fmt: skip
        self.writer.row("audit_log", pid, enrolled, "bench", "enrol", pid, f'{{"protocol": "{protocol.id}"}}')
        sessions = self._sessions(pid, protocol, first_local, interval, enrolled, tz)
        stopped = opted_out or invalid or (enrolled + timedelta(days=20) if status != "active" else None)
        self._texts(pid, phone, language, protocol.id, tz_name, sessions, enrolled, stopped, opted_out)
        if rng.random() < 0.2 and first_utc < now:
            body, intent = REPLIES[pid % len(REPLIES)]
            received = first_utc - timedelta(hours=rng.uniform(2, 30))
            handled = received + timedelta(hours=1) if rng.random() < 0.9 else None
            self.writer.row("replies", pid, pid, phone, body, intent, False, handled, received)

    def _sessions(
        self,
        pid: int,
        protocol: Any,
        first_local: datetime,
        interval: int | None,
        enrolled: datetime,
        tz: Any,
    ) -> list[Any]:
        from scheduler.domain import course, plan
        from scheduler.domain.timeutil import to_local, to_utc

        tomorrow = to_local(enrolled, tz).date() + timedelta(days=1)
        sessions = []
        closed = self.settings.clinic_closed_days
        found = course.initial_sessions(protocol, first_local, closed, interval, tomorrow)
        for k, session in enumerate(found[: self.SESSIONS]):
            appointment_id = pid * self.SESSIONS + k
            starts = to_utc(session.local_start, tz)
            past = starts < self.now
            status = ("attended" if self.rng.random() < 0.93 else "missed") if past else "scheduled"
            confirmed = starts - timedelta(days=1) if past or self.rng.random() < 0.3 else None
            self.writer.row(
                "appointments", appointment_id, pid, session.kind, session.number, starts, status, 0,
                enrolled, confirmed if confirmed and confirmed < self.now else None, enrolled, enrolled,
            )  # fmt: skip
            sessions.append(plan.Session(appointment_id, 0, session.kind, session.number, starts, enrolled))
        return sessions

    def _texts(
        self,
        pid: int,
        phone: str,
        language: str,
        protocol: str,
        tz_name: str,
        sessions: list[Any],
        enrolled: datetime,
        stopped: datetime | None,
        opted_out: datetime | None,
    ) -> None:
        from scheduler.store.models import Patient

        person = Patient(id=pid, timezone=tz_name, protocol=protocol, language=language)
        planned = self.planner.new_patient_reminders(person, enrolled, sessions)
        for k, r in enumerate(planned[: self.TEXTS]):
            reminder_id = pid * self.TEXTS + k
            due = r["due_at"]
            status, reason = str(r["status"]), r["reason"]
            sid = sent_at = code = msg = None
            if stopped is not None and due >= stopped and status == "pending":
                status, reason = "cancelled", "opted-out" if opted_out else "paused"
            elif due < self.now and status == "pending":
                msg, sent_at, sid = reminder_id, due, f"SM{reminder_id:032x}"
                failed = self.rng.random() < 0.02
                status, code = ("failed", 30006) if failed else ("delivered", None)
                self.writer.row(
                    "messages", msg, reminder_id, pid, phone, BODIES.get(str(r["kind"]), BODIES["confirm"]),
                    "undelivered" if failed else "delivered", sid, code, "bench-worker", due,
                    due + timedelta(seconds=4),
                )  # fmt: skip
            self.writer.row(
                "reminders", reminder_id, pid, r["appointment_id"], r["plan_key"], r["kind"], due,
                r["deadline"], status, reason, 1 if msg else 0, sid, code, sent_at, msg, enrolled,
                sent_at or enrolled,
            )  # fmt: skip


def generate(args: tuple[str, int, int, datetime]) -> dict[str, int]:
    """Plan patients `first` to `last` (inclusive) and write their rows into `folder` (a process)."""
    folder, first, last, now = args
    writer = Writer(Path(folder), suffix=f"{first}")
    clinic = Clinic(writer, now, seed=first)
    for pid in range(first, last + 1):
        clinic.patient(pid)
    writer.close()
    return writer.counts


def load(url: str, folder: Path) -> None:
    """COPY every table from its file, triggers off for the load (foreign keys, the sessions'
    counts and tallies), in one transaction; then count what the triggers would have."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("SET session_replication_role = replica")
        for table, columns in TABLES.items():
            quoted = ", ".join(f'"{col}"' for col in columns)
            with conn.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:  # type: ignore[arg-type]
                for part in sorted(folder.glob(f"{table}.*.tsv")):
                    with part.open("rb") as f:
                        while chunk := f.read(1 << 20):
                            copy.write(chunk)
        # Each session's count of confirm requests sent, and the reports' session tallies: kept by
        # triggers, which the load turned off (and which would count the count as a change).
        conn.execute(
            "UPDATE appointments a SET confirm_requests_sent = sent.n FROM (SELECT appointment_id,"
            " count(*) AS n FROM reminders WHERE kind = 'confirm' AND status IN ('sent', 'delivered')"
            " GROUP BY appointment_id) sent WHERE a.id = sent.appointment_id"
        )
        conn.execute("SET session_replication_role = origin")
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # type: ignore[arg-type]
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        conn.commit()
    from sqlalchemy import create_engine

    from scheduler.store import tallies

    engine = create_engine(url)
    with engine.begin() as db:
        tallies.recount(db)
    engine.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def database_url(patients: int) -> str:
    from sqlalchemy.engine import make_url

    name = f"bench_large_{patients}"
    return (
        make_url(c.POSTGRES_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)
    )


def exists(patients: int) -> bool:
    """Whether `bench_large_<patients>` is there, seeded to completion, at this code's schema."""
    import psycopg

    from scheduler.store.db import SCHEMA_REVISION

    try:
        with psycopg.connect(database_url(patients).replace("postgresql+psycopg", "postgresql")) as conn:
            count = conn.execute("SELECT count(*) FROM patients").fetchone()
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error:
        return False
    return bool(count and count[0] == patients and revision and revision[0] == SCHEMA_REVISION)


def drop(patients: int) -> None:
    import psycopg

    name = f"bench_large_{patients}"
    with psycopg.connect(c.POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def seed(patients: int, processes: int = 2) -> dict[str, Any]:
    """Make `bench_large_<patients>` afresh and fill it; what was written and how long it took."""
    import psycopg

    from scheduler.store.db import upgrade

    drop(patients)
    with psycopg.connect(c.POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "bench_large_{patients}"')  # type: ignore[arg-type]
    url = database_url(patients)
    upgrade(url)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench_seed_") as tmp:
        start = time.perf_counter()
        step = -(-patients // (processes * 4))
        chunks = [
            (tmp, first, min(first + step - 1, patients), now) for first in range(1, patients + 1, step)
        ]
        with multiprocessing.Pool(processes) as pool:
            counts = pool.map(generate, chunks)
        planned = time.perf_counter() - start
        load(url, Path(tmp))
        total = time.perf_counter() - start
    rows = {t: sum(n[t] for n in counts) for t in TABLES}
    return {"patients": patients, "rows": rows, "plan_seconds": planned, "seconds": total, "url": url}


def rows_summary(rows: dict[str, int]) -> Iterator[str]:
    for table, n in rows.items():
        yield f"{table} {n:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--drop", action="store_true", help="drop bench_large_<patients> and stop")
    parser.add_argument("--processes", type=int, default=2, help="processes planning patients (default 2)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.drop:
        drop(args.patients)
        return
    result = seed(args.patients, args.processes)
    print(
        f"seeded {args.patients:,} patients in {result['seconds']:.0f} s "
        f"(planning and writing {result['plan_seconds']:.0f} s): {', '.join(rows_summary(result['rows']))}"
    )
    c.write_json(args.json, {k: v for k, v in result.items() if k != "url"})


if __name__ == "__main__":
    main()
