"""Benchmark 3: catch-up after an outage, ours against the raw client's own rate (the yardstick)
and the per-job APScheduler baseline (a secondary column).

N texts fell due during an outage (an hour ago). Side by side, against one fake Twilio process:
  raw      - the same N texts sent by a plain twilio-python loop with as many threads as the
             workers of the case have in all (4 per worker): the client's own rate, which bounds
             any scheduler built on it;
  ours     - N overdue welcome reminders in a fresh database, drained by K real `reminders worker`
             processes (default settings: DISPATCH_INTERVAL_SECONDS=15); time from starting the
             workers to the last text accepted by the fake (start-up included), peak RSS;
  baseline - bench/baseline_per_job.py: the same N texts as APScheduler 3 DateTrigger jobs in a
             SQLAlchemyJobStore, restarted after their due times with the defaults (grace 1 s,
             which drops them) and with misfire_grace_time=None set when they were created.
Every case reports how many texts the fake actually accepted. Target: ours >= 90% of the raw
client's rate over the same N, with every text sent.

    .venv/bin/python bench/catchup.py [--quick] [--texts 50000] [--ours sqlite:1,postgresql:4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import _common as c
import baseline_per_job
from throughput import raw_run

THREADS_PER_WORKER = 4  # DispatchOptions.threads


def ours(fake: c.FakeServer, backend: str, workers: int, texts: int, timeout: float) -> dict[str, Any]:
    with c.fresh_database(backend, "catchup") as url, tempfile.TemporaryDirectory(prefix="bench_") as cwd:
        c.seed_due_welcomes(url, texts, overdue=timedelta(hours=1))
        env = c.twilio_env(url, fake)
        env.pop("DISPATCH_INTERVAL_SECONDS", None)
        fake.reset()
        start = time.monotonic()
        procs = c.Workers(workers, env, cwd)
        try:
            deadline = start + timeout
            stats = fake.stats()
            while stats.messages < texts and time.monotonic() < deadline and procs.alive():
                procs.sample_rss()
                time.sleep(0.25)
                stats = fake.stats()
        finally:
            errors = procs.stop()
        stats = fake.stats()
        statuses = c.reminder_statuses(url)
    if any(p.returncode != 0 for p in procs.procs):
        raise RuntimeError(f"a worker failed: {errors}")
    seconds = (stats.last or time.monotonic()) - start
    return {
        "backend": backend,
        "workers": workers,
        "seconds": seconds,
        "rate": stats.messages / seconds,
        "sent": stats.messages,
        "distinct_to": stats.distinct_to,
        "pauses": stats.pauses,
        "pause_seconds": round(stats.pause_seconds, 1),
        "statuses": statuses,
        "peak_rss_mib": c.mib(max(procs.peak_rss)),
        "total_peak_rss_mib": c.mib(sum(procs.peak_rss)),
    }


def main() -> None:
    c.require("psutil")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--texts", type=int, default=50_000)
    parser.add_argument("--ours", default="sqlite:1,postgresql:4", help="backend:workers, comma-separated")
    parser.add_argument(
        "--baseline", default="default,none", help="baseline misfire modes to run ('' for none)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="fake Twilio latency in ms (default 0)")
    parser.add_argument("--runs", type=int, default=1, help="runs per case (median); runs are long")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 texts")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.texts, args.runs = 1000, 1

    results: dict[str, Any] = {
        "texts": args.texts,
        "latency_ms": args.latency,
        "runs": args.runs,
        "ours": [],
        "baseline": [],
    }
    with c.FakeServer(args.latency / 1000) as fake, tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        # Schedule the baseline's jobs first: their due times pass while ours run.
        templates = {}
        for mode in filter(None, args.baseline.split(",")):
            c.log(f"baseline: scheduling {args.texts} DateTrigger jobs (misfire {mode})")
            templates[mode] = baseline_per_job.make_template(args.texts, mode, Path(tmp))
        for spec in filter(None, args.ours.split(",")):
            backend, workers = spec.split(":")
            threads = int(workers) * THREADS_PER_WORKER
            runs, raws = [], []
            for _ in range(args.runs):  # interleaved: the raw client, then ours, on the same fake
                raws.append(raw_run(fake, args.texts, threads))
                runs.append(ours(fake, backend, int(workers), args.texts, args.timeout))
            best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            best["runs"] = [r["seconds"] for r in runs]
            best["raw_threads"] = threads
            best["raw_rate"] = c.median([r["rate"] for r in raws])
            best["raw_seconds"] = c.median([r["seconds"] for r in raws])
            best["raw_runs"] = [r["rate"] for r in raws]
            best["vs_raw"] = best["rate"] / best["raw_rate"]
            results["ours"].append(best)
            c.log(
                f"ours {spec}: {best['seconds']:.1f} s, {best['sent']}/{args.texts} sent, "
                f"{best['rate']:.0f}/s = {best['vs_raw']:.0%} of raw "
                f"({best['raw_rate']:.0f}/s, {threads} threads)"
            )
        for mode, (template, info) in templates.items():
            runs = [
                baseline_per_job.run_restart(template, args.texts, fake, info["due"])
                for _ in range(args.runs)
            ]
            best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            best.update(
                misfire=mode, schedule_seconds=info["schedule_seconds"], runs=[r["seconds"] for r in runs]
            )
            results["baseline"].append(best)
            c.log(f"baseline {mode}: {best['seconds']:.1f} s, {best['sent']}/{args.texts} sent")

    print(
        f"{'case':>28} {'seconds':>8} {'sent':>7} {'texts/s':>8} {'peak RSS':>9} {'raw/s':>7} {'vs raw':>7}"
    )
    for r in results["ours"]:
        print(
            f"{'ours ' + r['backend'] + ' x' + str(r['workers']):>28} {r['seconds']:>8.1f} {r['sent']:>7} "
            f"{r['rate']:>8.0f} {r['peak_rss_mib']:>7.1f}MB {r['raw_rate']:>7.0f} {r['vs_raw']:>7.0%}"
        )
    for r in results["baseline"]:
        print(
            f"{'per-job, grace ' + r['misfire']:>28} {r['seconds']:>8.1f} {r['sent']:>7} "
            f"{r['sent'] / max(r['seconds'], 1e-9):>8.0f} {r['peak_rss_mib']:>7.1f}MB"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
