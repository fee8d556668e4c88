"""Benchmark: the weekly report and the CSV exports at 100,000 patients (wall time, memory).

Seeds a migrated database with bulk inserts (no planning: the rows a clinic of that size would
have after five months): N patients, six sessions each over the last 20 weeks and the next four,
three texts a session (a few failed or expired), a message for each text sent, a reply for one
patient in ten, an opt-out for one in fifty. Then times `Reports.weekly()` (12 weeks), the
patient export and a four-week message-log export, each read to the end, with the peak of memory
Python allocated while it ran (tracemalloc, in a second run).

    .venv/bin/python bench/reports.py [--patients 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import _common as c
from sqlalchemy import insert

from scheduler.app import build
from scheduler.services.exports import Period
from scheduler.store.models import Appointment, AuditEntry, Message, Patient, Reminder, Reply
from tests.support import make_settings

BATCH = 20_000


def seed(url: str, patients: int) -> None:
    app = build(make_settings(url))
    rng = random.Random(7)
    now = datetime.now(UTC)
    try:
        with app.engine.begin() as conn:
            rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in (Patient, Appointment, Reminder, Message)}
            rows[Reply], rows[AuditEntry] = [], []

            def flush(force: bool = False) -> None:
                # All tables at once, parents first, so that every foreign key finds its row.
                if not force and len(rows[Reminder]) < BATCH:
                    return
                for model in (Patient, Appointment, Reminder, Message, Reply, AuditEntry):
                    if rows[model]:
                        conn.execute(insert(model), rows[model])
                        rows[model].clear()

            appointment_id = reminder_id = message_id = 0
            for pid in range(1, patients + 1):
                start = now - timedelta(weeks=20) + timedelta(minutes=rng.randrange(24 * 60 * 7 * 22))
                rows[Patient].append(
                    {
                        "id": pid,
                        "name": f"Patient {pid}",
                        "phone": f"+1201{pid:07d}",
                        "timezone": "America/New_York",
                        "protocol": "iv-6x-mwf",
                        "status": "active",
                        "consent_source": "bench",
                        "consent_at": start,
                        "created_at": start,
                        "updated_at": start,
                        "external_id": f"MRN-{pid}",
                    }
                )
                for number, day in enumerate((0, 2, 4, 7, 9, 11), start=1):
                    appointment_id += 1
                    at = start + timedelta(days=day)
                    past = at < now
                    status = ("missed" if rng.random() < 0.1 else "attended") if past else "scheduled"
                    confirmed = at - timedelta(days=1) if rng.random() < 0.6 else None
                    rows[Appointment].append(
                        {
                            "id": appointment_id,
                            "patient_id": pid,
                            "kind": "induction",
                            "number": number,
                            "starts_at": at,
                            "status": status,
                            "revision": 0,
                            "booked_at": start,
                            "confirmed_at": confirmed,
                            "created_at": start,
                            "updated_at": start,
                        }
                    )
                    for kind, before in (("confirm", 2), ("prep", 1), ("day-of", 0)):
                        reminder_id += 1
                        due = at - timedelta(days=before, hours=2)
                        roll = rng.random()
                        state = (
                            "pending"
                            if due > now
                            else "failed"
                            if roll < 0.01
                            else "expired"
                            if roll < 0.02
                            else "sent"
                        )
                        rows[Reminder].append(
                            {
                                "id": reminder_id,
                                "patient_id": pid,
                                "appointment_id": appointment_id,
                                "plan_key": f"a{appointment_id}.0:{kind}",
                                "kind": kind,
                                "due_at": due,
                                "status": state,
                                "sent_at": due if state == "sent" else None,
                                "created_at": start,
                                "updated_at": due,
                            }
                        )
                        if state == "sent":
                            message_id += 1
                            rows[Message].append(
                                {
                                    "id": message_id,
                                    "reminder_id": reminder_id,
                                    "patient_id": pid,
                                    "to": f"+1201{pid:07d}",
                                    "body": "Oak St Clinic: see you soon",
                                    "status": "delivered",
                                    "created_at": due,
                                    "updated_at": due,
                                }
                            )
                if pid % 10 == 0:
                    rows[Reply].append(
                        {
                            "patient_id": pid,
                            "from_number": f"+1201{pid:07d}",
                            "body": "C",
                            "intent": "confirm",
                            "received_at": start + timedelta(days=1),
                        }
                    )
                if pid % 50 == 0:
                    rows[AuditEntry].append(
                        {
                            "at": start + timedelta(days=3),
                            "actor": "patient-sms",
                            "action": "opt-out",
                            "patient_id": pid,
                            "details": {},
                        }
                    )
                flush()
            flush(force=True)
    finally:
        app.close()


def analyze(url: str) -> None:
    """Planner statistics after the load, as autovacuum would have them a minute later."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def timed(label: str, work: Callable[[], int]) -> dict[str, Any]:
    """Wall time of one run, then the peak of Python's allocations in a second (tracemalloc slows
    Python down several times, so it is not on while timing)."""
    began = time.perf_counter()
    count = work()
    seconds = time.perf_counter() - began
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label}: {seconds:.2f} s, {count} rows, peak Python memory {peak / 2**20:.1f} MiB")
    return {"seconds": round(seconds, 3), "rows": count, "peak_mib": round(peak / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with c.fresh_database("postgresql" if args.postgres else "sqlite", "reports") as url:
        began = time.perf_counter()
        seed(url, args.patients)
        if args.postgres:
            analyze(url)
        print(f"seeded {args.patients} patients in {time.perf_counter() - began:.0f} s")
        app = build(make_settings(url))
        try:
            results = {
                "weekly_report": timed(
                    "weekly report, 12 weeks", lambda: len(app.reports("bench").weekly().weeks)
                ),
                "export_patients": timed(
                    "patient export",
                    lambda: sum(s.count("\n") for s in app.exports("bench").export_patients().lines()),
                ),
                "export_messages": timed(
                    "message export, 4 weeks",
                    lambda: sum(
                        s.count("\n")
                        for s in app.exports("bench")
                        .export_messages(Period(first=(datetime.now(UTC) - timedelta(weeks=4)).date()))
                        .lines()
                    ),
                ),
            }
        finally:
            app.close()
    print(results)


if __name__ == "__main__":
    main()
