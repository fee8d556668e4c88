"""The per-job baseline: one APScheduler 3 DateTrigger job per text in a SQLAlchemyJobStore.

This is what Twilio's appointment-reminder tutorials do, and what DESIGN.md section 4.1 forbids.
It schedules N texts as `DateTrigger` jobs calling `send_text(to, body)` (a plain twilio-python
`client.messages.create`), stops, and starts a fresh scheduler on the same SQLite job store after
the due times have passed (an outage). It reports how long the restart took to work through the
overdue jobs, the restarted process's peak memory, and what happened to each job: executed, missed
(APScheduler's misfire check) or failed; the caller counts the texts at the fake Twilio.

Modes (`--misfire`):
  default - the jobs carry APScheduler's defaults (misfire_grace_time=1 s), as in the tutorials;
  none    - the jobs were created with misfire_grace_time=None (the only way they run late).

    .venv/bin/python bench/baseline_per_job.py [--texts 50000] [--misfire default,none] [--quick]

Setup shortcut: the scheduling phase writes the job store with PRAGMA synchronous=OFF (through
the store's `engine` argument), which only makes populating faster; the restart uses the plain
`SQLAlchemyJobStore(url=...)` of the tutorials, so every job's DELETE is a durable transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c

BODY = "Oak St Clinic: you're signed up for visit reminders. Reply HELP for help, STOP to opt out."
_client: Any = None
_client_lock = threading.Lock()


def send_text(to: str, body: str) -> None:
    """The job: text one patient (the client is built once, from the environment)."""
    global _client  # noqa: PLW0603 - a lazily built module-level client, as tutorials keep one
    with _client_lock:
        if _client is None:
            from twilio.rest import Client

            from scheduler.sms.twilio import RedirectingHttpClient

            sid, token = os.environ["BENCH_FAKE_SID"], os.environ["BENCH_FAKE_TOKEN"]
            _client = Client(sid, token, http_client=RedirectingHttpClient(os.environ["BENCH_FAKE_URL"]))
    _client.messages.create(to=to, from_=c.FROM_NUMBER, body=body)


# -- phase 1: schedule ---------------------------------------------------------------------------


def schedule(db: Path, texts: int, misfire: str, lead: float) -> dict[str, Any]:
    """Add `texts` DateTrigger jobs due `lead` seconds from now, then stop the scheduler."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger
    from sqlalchemy import create_engine, event, text

    engine = create_engine(f"sqlite:///{db}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC)
    scheduler.start(paused=True)
    due = datetime.now(UTC) + timedelta(seconds=lead)
    extra: dict[str, Any] = {"misfire_grace_time": None} if misfire == "none" else {}
    start = time.perf_counter()
    for i in range(texts):
        scheduler.add_job(
            "baseline_per_job:send_text",
            trigger=DateTrigger(run_date=due + timedelta(microseconds=i), timezone=UTC),
            args=[f"+1203{i:07d}", BODY],
            id=f"reminder-{i}",
            **extra,
        )
    elapsed = time.perf_counter() - start
    if datetime.now(UTC) >= due:
        raise SystemExit(f"scheduling took {elapsed:.0f} s, longer than --lead {lead} s: raise --lead")
    scheduler.shutdown(wait=True)
    with engine.connect() as conn:
        stored = int(conn.execute(text("SELECT COUNT(*) FROM apscheduler_jobs")).scalar_one())
    engine.dispose()
    if stored != texts:
        raise SystemExit(f"expected {texts} stored jobs, found {stored}")
    return {"scheduled": texts, "schedule_seconds": elapsed, "due": due.timestamp()}


# -- phase 2: restart after the outage -----------------------------------------------------------


def restart(db: Path, texts: int, timeout: float) -> dict[str, Any]:
    """A scheduler with the tutorials' defaults on the same store; waits until every job was run,
    missed or failed (or nothing happened for a while)."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    counts = {"executed": 0, "missed": 0, "errors": 0}
    lock = threading.Lock()
    last_event = [time.perf_counter()]
    names = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "errors"}

    def listen(event: JobEvent) -> None:
        with lock:
            counts[names[event.code]] += 1
            last_event[0] = time.perf_counter()

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")}, timezone=UTC
    )
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    start = time.perf_counter()
    scheduler.start()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        with lock:
            done = sum(counts.values())
            quiet = time.perf_counter() - last_event[0]
        if done >= texts or quiet > 60:
            break
        time.sleep(0.05)
    elapsed = last_event[0] - start
    left = len(scheduler.get_jobs())
    scheduler.shutdown(wait=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {**counts, "seconds": elapsed, "jobs_left": left, "peak_rss_mib": round(peak_kib / 1024, 1)}


# -- orchestration -------------------------------------------------------------------------------


def _phase(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(
            [c.PYTHON, __file__, *args], env=env, stdout=subprocess.PIPE, stderr=err, text=True, check=False
        )
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"baseline phase {args[0]} failed:\n{err.read()[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def make_template(texts: int, misfire: str, directory: Path) -> tuple[Path, dict[str, Any]]:
    """Schedule the jobs once into a job-store file; each run restarts from a copy of it."""
    template = directory / f"jobs-{misfire}.db"
    lead = 20 + texts / 1000  # more than the scheduling takes (about 2,400 jobs/s here)
    info = _phase(
        ["schedule", "--db", str(template), "--texts", str(texts), "--misfire", misfire, "--lead", str(lead)]
    )
    return template, info


def run_restart(template: Path, texts: int, fake: c.FakeServer, due: float) -> dict[str, Any]:
    """Copy the store, wait until the due time has passed by more than the 1 s grace, restart."""
    wait = due + 2 - time.time()
    if wait > 0:
        time.sleep(wait)
    with tempfile.TemporaryDirectory(prefix="bench_baseline_") as tmp:
        db = Path(tmp) / "jobs.db"
        shutil.copy(template, db)
        env = {
            **os.environ,
            "BENCH_FAKE_URL": fake.base_url,
            "BENCH_FAKE_SID": fake.account_sid,
            "BENCH_FAKE_TOKEN": fake.auth_token,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        fake.reset()
        result = _phase(["restart", "--db", str(db), "--texts", str(texts)], env)
    stats = fake.stats()
    result.update(sent=stats.messages, distinct_to=stats.distinct_to, overdue_by=round(time.time() - due, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("phase", nargs="?", choices=("schedule", "restart"), help="(internal) one phase")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--texts", type=int, default=50_000)
    parser.add_argument("--misfire", default="default,none", help="default, none, or both (default)")
    parser.add_argument("--lead", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--latency", type=float, default=0.0, help="fake Twilio latency in ms")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 texts")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.phase == "schedule":
        print(json.dumps(schedule(args.db, args.texts, args.misfire, args.lead)))
        return
    if args.phase == "restart":
        print(json.dumps(restart(args.db, args.texts, args.timeout)))
        return
    if args.quick:
        args.texts = 2000
    results: dict[str, Any] = {"texts": args.texts, "cases": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench_baseline_") as tmp,
        c.FakeServer(args.latency / 1000) as fake,
    ):
        for misfire in args.misfire.split(","):
            template, info = make_template(args.texts, misfire, Path(tmp))
            result = run_restart(template, args.texts, fake, info["due"])
            results["cases"].append({"misfire": misfire, **info, **result})
            c.log(f"misfire={misfire}: {result}")
    for case in results["cases"]:
        print(
            f"per-job baseline, misfire_grace_time {case['misfire']}: restart took {case['seconds']:.1f} s, "
            f"sent {case['sent']}/{args.texts}, missed {case['missed']}, peak RSS {case['peak_rss_mib']} MiB"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
