"""Benchmark 4: scale-out, 1, 2 and 4 `reminders worker` processes on PostgreSQL at 100 ms latency.

Each run: a fresh PostgreSQL database with N due welcome texts, K worker processes started
together, texts/s measured at the fake Twilio from the first accepted text to the last (worker
start-up excluded; the wall time including it is reported too). DISPATCH_INTERVAL_SECONDS is 60 so
one tick drains the whole backlog and the rate is the drain rate, not the tick rhythm (with the
default 15 s a worker idles up to 20% of each interval: runner.TICK_BUDGET_SHARE).
The fake must not be the bottleneck: it runs in its own process (a ThreadingHTTPServer, a thread
per connection), and a raw twilio-python loop with 2x and 4x the workers' total sender threads
checks its capacity at the same latency. Target: 4 workers >= 3x one worker.

    .venv/bin/python bench/scaleout.py [--quick] [--texts 1200] [--workers 1,2,4] [--latency 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import _common as c
import throughput


def run(fake: c.FakeServer, workers: int, texts: int, interval: float, timeout: float) -> dict[str, Any]:
    with (
        c.fresh_database("postgresql", "scaleout") as url,
        tempfile.TemporaryDirectory(prefix="bench_") as cwd,
    ):
        c.seed_due_welcomes(url, texts)
        env = c.twilio_env(url, fake, DISPATCH_INTERVAL_SECONDS=str(interval))
        fake.reset()
        start = time.monotonic()
        procs = c.Workers(workers, env, cwd)
        try:
            stats = fake.stats()
            while stats.messages < texts and time.monotonic() < start + timeout and procs.alive():
                time.sleep(0.1)
                stats = fake.stats()
        finally:
            logs = procs.stop()
        stats = fake.stats()
        statuses = c.reminder_statuses(url)
    if stats.messages != texts or stats.distinct_to != texts or statuses != {"sent": texts}:
        raise RuntimeError(f"{workers} worker(s) did not send every text once: {stats} {statuses}\n{logs}")
    assert stats.first is not None
    assert stats.last is not None
    span = stats.last - stats.first
    return {
        "rate": (texts - 1) / span,
        "seconds": span,
        "wall": stats.last - start,
        "startup": stats.first - start,
    }


def main() -> None:
    c.require("psutil")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--texts", type=int, default=1200, help="backlog per run")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=float, default=100.0, help="fake Twilio latency in ms")
    parser.add_argument("--interval", type=float, default=60.0, help="DISPATCH_INTERVAL_SECONDS")
    parser.add_argument("--threads", type=int, default=4, help="sender threads per worker (default 4)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 texts, one run")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.texts, args.runs = 200, 1
    counts = [int(w) for w in args.workers.split(",")]

    results: dict[str, Any] = {
        "texts": args.texts,
        "latency_ms": args.latency,
        "runs": args.runs,
        "interval": args.interval,
        "cases": [],
        "fake_capacity": [],
    }
    with c.FakeServer(args.latency / 1000) as fake:
        for factor in (2, 4):
            threads = max(counts) * args.threads * factor
            texts = max(200, int(threads / (args.latency / 1000 or 0.01) * 3))
            raw = throughput.raw_run(fake, texts, threads)
            ideal = threads / (args.latency / 1000) if args.latency else float("nan")
            results["fake_capacity"].append(
                {"threads": threads, "rate": raw["rate"], "ideal": ideal, "fake_cpu": raw["fake_cpu"]}
            )
            c.log(f"fake capacity: {threads} raw threads -> {raw['rate']:.0f}/s (ideal {ideal:.0f}/s)")
        per_workers: dict[int, list[dict[str, Any]]] = {k: [] for k in counts}
        for i in range(args.runs):
            for k in counts:  # interleaved, so drift in the machine's load hits every case alike
                per_workers[k].append(run(fake, k, args.texts, args.interval, args.timeout))
                c.log(f"run {i + 1}: {k} worker(s): {per_workers[k][-1]['rate']:.1f} texts/s")
        base = c.median([r["rate"] for r in per_workers[counts[0]]])
        for k in counts:
            rate = c.median([r["rate"] for r in per_workers[k]])
            results["cases"].append(
                {
                    "workers": k,
                    "rate": rate,
                    "speedup": rate / base,
                    "ideal_rate": k * args.threads / (args.latency / 1000) if args.latency else None,
                    "runs": [r["rate"] for r in per_workers[k]],
                    "wall": c.median([r["wall"] for r in per_workers[k]]),
                    "startup": c.median([r["startup"] for r in per_workers[k]]),
                }
            )
    print(f"{'workers':>8} {'texts/s':>8} {'speedup':>8} {'ideal/s':>8}")
    for case in results["cases"]:
        print(
            f"{case['workers']:>8} {case['rate']:>8.1f} {case['speedup']:>7.2f}x "
            f"{case['ideal_rate'] or 0:>8.0f}"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
