"""Benchmark 1: dispatch throughput of one worker against the raw twilio-python ceiling.

For each fake latency, side by side against the same fake Twilio process:
  raw      - a plain `client.messages.create` loop on `--threads` threads (the ceiling);
  dispatch - the real Dispatcher.drain (runner.make_dispatcher: TwilioSender, DispatchOptions
             defaults, 4 threads) over N due welcome texts seeded in a fresh database, in a
             process whose start-up objects are frozen out of garbage collection, as a worker's
             are (runner.freeze_start_up); the raw loop runs in the same process, frozen alike.
Each run times the raw loop, then the dispatcher, back to back; the ratio is the median of the
runs' own ratios. The machine's speed can change between runs (another tenant on the host), and
a pair run seconds apart sees the same speed where the medians of the two sides may not.
Targets (issue 15): at 0 ms, dispatch >= 90% of raw on SQLite and >= 85% on PostgreSQL.

    .venv/bin/python bench/throughput.py [--quick] [--texts 3000] [--slow-texts 400]
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import _common as c

BODY = (
    "Oak St Clinic: you're signed up for visit reminders, about 4 texts a week. Reply HELP for help, "
    "STOP to opt out. Msg&data rates may apply."
)


def raw_run(fake: c.FakeServer, texts: int, threads: int) -> dict[str, Any]:
    """`texts` creates on `threads` threads sharing one Client, as the TwilioSender does."""
    client = c.twilio_client(fake)
    counter = iter(range(texts))
    lock = threading.Lock()

    def loop() -> int:
        done = 0
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return done
            client.messages.create(to=f"+1202{i:07d}", from_=c.FROM_NUMBER, body=BODY, validity_period=36000)
            done += 1

    fake.reset()
    cpu0 = fake.cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        sent = sum(pool.map(lambda _n: loop(), range(threads)))
    elapsed = time.perf_counter() - start
    stats = fake.stats()
    assert sent == texts == stats.messages, (sent, texts, stats)
    return {"seconds": elapsed, "rate": texts / elapsed, "fake_cpu": (fake.cpu_seconds() - cpu0) / elapsed}


def dispatch_run(fake: c.FakeServer, texts: int, backend: str, threads: int) -> dict[str, Any]:
    from scheduler.app import build, load_settings
    from scheduler.dispatch import DispatchOptions
    from scheduler.runner import freeze_start_up, make_dispatcher

    with c.fresh_database(backend, "throughput") as url:
        c.seed_due_welcomes(url, texts)
        app = build(load_settings(c.twilio_env(url, fake)))
        dispatcher = make_dispatcher(app, DispatchOptions(threads=threads))
        freeze_start_up()  # as `run_worker` does before its first tick
        try:
            fake.reset()
            cpu0 = fake.cpu_seconds()
            start = time.perf_counter()
            counts = dispatcher.drain()
            elapsed = time.perf_counter() - start
            fake_cpu = (fake.cpu_seconds() - cpu0) / elapsed
        finally:
            dispatcher.close()
            app.close()
        stats = fake.stats()
        statuses = c.reminder_statuses(url)
    if counts.sent != texts or stats.messages != texts or statuses != {"sent": texts}:
        raise RuntimeError(f"dispatch did not send every text once: {counts.as_dict()} {stats} {statuses}")
    return {"seconds": elapsed, "rate": texts / elapsed, "fake_cpu": fake_cpu}


def main() -> None:
    c.require("psutil")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--texts", type=int, default=3000, help="texts per run at 0 ms latency")
    parser.add_argument("--slow-texts", type=int, default=400, help="texts per run at 100 ms latency")
    parser.add_argument("--latencies", default="0,100", help="fake latencies in ms (default 0,100)")
    parser.add_argument("--threads", type=int, default=4, help="sender threads (DispatchOptions default)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="databases (default both)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, one run")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.texts, args.slow_texts, args.runs = 300, 40, 1

    from scheduler.runner import freeze_start_up
    from scheduler.sms.twilio import TwilioSender  # noqa: F401  (imported, then frozen, as in a worker)

    freeze_start_up()
    results: dict[str, Any] = {"threads": args.threads, "runs": args.runs, "cases": []}
    for latency_ms in (int(x) for x in args.latencies.split(",")):
        texts = args.texts if latency_ms == 0 else args.slow_texts
        with c.FakeServer(latency_ms / 1000) as fake:
            for backend in args.backends.split(","):
                raw: list[dict[str, Any]] = []
                ours: list[dict[str, Any]] = []
                for run in range(args.runs):
                    raw.append(raw_run(fake, texts, args.threads))
                    ours.append(dispatch_run(fake, texts, backend, args.threads))
                    c.log(
                        f"{latency_ms} ms {backend} run {run + 1}: raw {raw[-1]['rate']:.0f}/s, "
                        f"dispatch {ours[-1]['rate']:.0f}/s"
                    )
                raw_rate = c.median([r["rate"] for r in raw])
                our_rate = c.median([r["rate"] for r in ours])
                paired = [o["rate"] / r["rate"] for r, o in zip(raw, ours, strict=True)]
                results["cases"].append(
                    {
                        "latency_ms": latency_ms,
                        "backend": backend,
                        "texts": texts,
                        "raw_rate": raw_rate,
                        "dispatch_rate": our_rate,
                        "ratio": c.median(paired),
                        "paired_ratios": paired,
                        "ratio_of_medians": our_rate / raw_rate,
                        "raw_runs": [r["rate"] for r in raw],
                        "dispatch_runs": [r["rate"] for r in ours],
                        "fake_cpu_raw": c.median([r["fake_cpu"] for r in raw]),
                        "fake_cpu_dispatch": c.median([r["fake_cpu"] for r in ours]),
                    }
                )
    print(f"{'latency':>8} {'backend':>10} {'texts':>6} {'raw/s':>8} {'dispatch/s':>11} {'ratio':>6}")
    for case in results["cases"]:
        print(
            f"{case['latency_ms']:>6}ms {case['backend']:>10} {case['texts']:>6} {case['raw_rate']:>8.0f} "
            f"{case['dispatch_rate']:>11.0f} {case['ratio']:>6.0%}"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
