"""Benchmark 2: the cost of an idle dispatch tick and a worker's memory with a big future backlog.

For each backend and size: a fresh database with N pending reminders due between tomorrow and a
year from now (bulk-inserted: executemany on SQLite, COPY on PostgreSQL; 25 per patient), then
  tick - Dispatcher.drain() when nothing is due (one claim statement that finds nothing and
         commits), timed in this process: median and p95 over --ticks ticks after a warm-up;
  rss  - a real `reminders worker` subprocess (DISPATCH_INTERVAL_SECONDS=0.2, Twilio backend
         pointed at the fake) sampled with psutil after --worker-seconds of idle ticks.
Targets: tick at 1M under 10 ms on both; worker RSS at 1M within 10 MB of RSS at 10k.

    .venv/bin/python bench/idle.py [--quick] [--sizes 10000,100000,1000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import _common as c


def tick_times(url: str, fake: c.FakeServer, ticks: int) -> list[float]:
    from scheduler.app import build, load_settings
    from scheduler.runner import make_dispatcher

    app = build(load_settings(c.twilio_env(url, fake)))
    dispatcher = make_dispatcher(app)
    times = []
    try:
        for i in range(ticks + 10):
            start = time.perf_counter()
            counts = dispatcher.drain()
            elapsed = time.perf_counter() - start
            if counts.claimed:
                raise RuntimeError("an idle tick claimed something")
            if i >= 10:  # warm-up: connections, statement caches
                times.append(elapsed)
    finally:
        dispatcher.close()
        app.close()
    return times


def claim_plan(url: str) -> str:
    """How the database runs the claim's inner SELECT (`claim_due` in scheduler/store/outbox.py):
    evidence that the partial index on due_at is used."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from scheduler.store.db import make_engine

    sqlite = c.backend_of(url) == "sqlite"
    now: Any = datetime.now(UTC)
    if sqlite:
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    query = (
        "SELECT id FROM reminders WHERE status IN ('pending', 'sending') AND due_at <= :now "
        "AND (status = 'pending' OR lease_until < :now OR claimed_by IN "
        "(SELECT id FROM workers WHERE alive_at < :now)) ORDER BY due_at, id LIMIT 20"
    )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if sqlite:
                rows = conn.execute(text("EXPLAIN QUERY PLAN " + query), {"now": now}).all()
                return "; ".join(str(r[-1]) for r in rows)
            rows = conn.execute(text("EXPLAIN " + query + " FOR UPDATE SKIP LOCKED"), {"now": now}).all()
            return " / ".join(" ".join(str(r[0]).split()) for r in rows)
    finally:
        engine.dispose()


def worker_rss(url: str, fake: c.FakeServer, seconds: float) -> dict[str, float]:
    env = c.twilio_env(url, fake, DISPATCH_INTERVAL_SECONDS="0.2")
    with tempfile.TemporaryDirectory(prefix="bench_idle_") as cwd:
        workers = c.Workers(1, env, cwd)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if not workers.alive():
                    break
                workers.sample_rss()
                time.sleep(0.2)
            rss = workers.sample_rss()[0]
        finally:
            errors = workers.stop()
    if rss == 0 or workers.procs[0].returncode != 0:
        raise RuntimeError(f"the worker failed: {errors[0][-1500:]}")
    return {"rss_mib": c.mib(rss), "peak_mib": c.mib(workers.peak_rss[0])}


def main() -> None:
    c.require("psutil")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="pending future reminders")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--ticks", type=int, default=200, help="idle ticks timed per case")
    parser.add_argument("--worker-seconds", type=float, default=5.0, help="idle worker time before RSS")
    parser.add_argument("--runs", type=int, default=3, help="worker RSS measurements per case (median)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1k and 10k, fewer ticks")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.ticks, args.worker_seconds, args.runs = "1000,10000", 30, 2.0, 1

    results: dict[str, Any] = {"ticks": args.ticks, "runs": args.runs, "cases": []}
    with c.FakeServer() as fake:
        for backend in args.backends.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                with c.fresh_database(backend, "idle") as url:
                    start = time.perf_counter()
                    c.seed_future(url, size)
                    seeded = time.perf_counter() - start
                    times = tick_times(url, fake, args.ticks)
                    rss = [worker_rss(url, fake, args.worker_seconds) for _ in range(args.runs)]
                    case = {
                        "backend": backend,
                        "size": size,
                        "seed_seconds": round(seeded, 1),
                        "tick_ms_median": c.median(times) * 1000,
                        "tick_ms_p95": c.percentile(times, 95) * 1000,
                        "rss_mib": c.median([r["rss_mib"] for r in rss]),
                        "rss_runs": [r["rss_mib"] for r in rss],
                        "peak_mib": max(r["peak_mib"] for r in rss),
                        "plan": claim_plan(url),
                    }
                    results["cases"].append(case)
                    c.log(
                        f"{backend} {size}: seeded in {seeded:.1f}s, tick {case['tick_ms_median']:.2f} ms "
                        f"(p95 {case['tick_ms_p95']:.2f}), worker RSS {case['rss_mib']} MiB"
                    )
    print(f"{'backend':>10} {'pending':>9} {'tick p50':>9} {'tick p95':>9} {'RSS MiB':>8}")
    for case in results["cases"]:
        print(
            f"{case['backend']:>10} {case['size']:>9} {case['tick_ms_median']:>7.2f}ms "
            f"{case['tick_ms_p95']:>7.2f}ms {case['rss_mib']:>8.1f}"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
