"""Run every benchmark, then write bench/RESULTS.md and bench/results.png.

Each benchmark runs as its own subprocess (`bench/NAME.py --json bench/out/NAME.json`), so one
benchmark's memory or threads never leak into the next. The machine's load average is recorded
around each one: on a shared machine, other processes' load is part of what was measured.

    .venv/bin/python bench/run_all.py                  # the issue's sizes, about 15 minutes here
    .venv/bin/python bench/run_all.py --catchup-texts 10000   # about 4 minutes less
    .venv/bin/python bench/run_all.py --quick          # smoke run, about two minutes; writes
                                                       # RESULTS-quick.md, results-quick.png
    .venv/bin/python bench/run_all.py --only idle,import_csv
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import _common as c
import report_scale

BENCHMARKS = ("throughput", "idle", "catchup", "scaleout", "import_csv", "sign_in_timing", "startup", "pages")
# Dispatch at 0 ms: the share of the raw client's rate each database must reach.
DISPATCH_GOAL = {"sqlite": 0.90, "postgresql": 0.85}
OUT = c.BENCH / "out"


def code_fingerprint() -> str:
    """A short hash of the code under test: other people may be changing it while benchmarks run."""
    digest = hashlib.sha256()
    for path in sorted(
        [*(c.ROOT / "scheduler").rglob("*.py"), c.ROOT / "tests" / "support" / "fake_twilio.py"]
    ):
        digest.update(path.relative_to(c.ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_benchmarks(names: list[str], quick: bool, extra: dict[str, list[str]], out: Path) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for name in names:
        path = out / f"{name}.json"
        path.unlink(missing_ok=True)
        command = [c.PYTHON, str(c.BENCH / f"{name}.py"), "--json", str(path), *extra.get(name, [])]
        if quick:
            command.append("--quick")
        c.log(f"running {' '.join(command[1:])}")
        load_before = os.getloadavg()
        code_before = code_fingerprint()
        start = time.perf_counter()
        proc = subprocess.run(command, check=False)
        elapsed = time.perf_counter() - start
        entry: dict[str, Any] = {
            "seconds": round(elapsed, 1),
            "returncode": proc.returncode,
            "load_before": [round(x, 1) for x in load_before],
            "load_after": [round(x, 1) for x in os.getloadavg()],
            "finished": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "code": code_before,
            "code_changed": code_fingerprint() != code_before,
        }
        if proc.returncode == 0 and path.exists():
            entry["result"] = json.loads(path.read_text(encoding="utf-8"))
        c.log(f"{name}: {'ok' if 'result' in entry else 'FAILED'} in {elapsed:.0f} s")
        runs[name] = entry
    return runs


# -- verdicts ------------------------------------------------------------------------------------


def verdicts(runs: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, goal, met) for each of the issue's targets found in the results."""
    rows: list[tuple[str, str, str, bool | None]] = []
    tp = runs.get("throughput", {}).get("result")
    if tp:
        for case in tp["cases"]:
            if case["latency_ms"] == 0:
                rows.append(
                    (
                        f"1. dispatch vs raw twilio-python at 0 ms ({case['backend']})",
                        f"{case['dispatch_rate']:.0f} vs {case['raw_rate']:.0f} texts/s (medians);"
                        f" {case['ratio']:.0%}, the median of the runs' ratios",
                        f">= {DISPATCH_GOAL.get(case['backend'], 0.9):.0%}",
                        case["ratio"] >= DISPATCH_GOAL.get(case["backend"], 0.9),
                    )
                )
    idle = runs.get("idle", {}).get("result")
    if idle:
        for backend in sorted({case["backend"] for case in idle["cases"]}):
            cases = sorted((x for x in idle["cases"] if x["backend"] == backend), key=lambda x: x["size"])
            big, small = cases[-1], cases[0]
            rows.append(
                (
                    f"2. idle tick at {big['size']:,} pending ({backend})",
                    f"{big['tick_ms_median']:.2f} ms (p95 {big['tick_ms_p95']:.2f})",
                    "< 10 ms",
                    big["tick_ms_median"] < 10,
                )
            )
            grow = big["rss_mib"] - small["rss_mib"]
            rows.append(
                (
                    f"2. worker RSS {big['size']:,} vs {small['size']:,} ({backend})",
                    f"{big['rss_mib']:.1f} vs {small['rss_mib']:.1f} MiB ({grow:+.1f})",
                    "within 10 MB",
                    abs(grow) * 2**20 <= 10e6,
                )
            )
    cu = runs.get("catchup", {}).get("result")
    if cu:
        complete = [b for b in cu["baseline"] if b["sent"] == cu["texts"]]
        reference = min(complete, key=lambda b: b["seconds"]) if complete else None
        for ours in cu["ours"]:
            every = ours["sent"] == cu["texts"] and ours["distinct_to"] == cu["texts"]
            per_job = f"; per-job baseline {reference['seconds']:.0f} s" if reference else ""
            rows.append(
                (
                    f"3. catch-up of {cu['texts']:,}: ours {ours['backend']} x{ours['workers']} vs raw",
                    f"{ours['rate']:.0f} vs {ours['raw_rate']:.0f} texts/s ({ours['raw_threads']} threads) "
                    f"= {ours['vs_raw']:.0%}; {ours['seconds']:.1f} s, sent {ours['sent']:,}/{cu['texts']:,}"
                    f"{per_job}",
                    ">= 90% of raw, all sent",
                    ours["vs_raw"] >= 0.9 and every,
                )
            )
    so = runs.get("scaleout", {}).get("result")
    if so:
        last = so["cases"][-1]
        rows.append(
            (
                f"4. scale-out: {last['workers']} workers vs 1 (PostgreSQL, {so['latency_ms']:.0f} ms)",
                f"{last['rate']:.1f} vs {so['cases'][0]['rate']:.1f} texts/s = {last['speedup']:.2f}x",
                ">= 3x",
                last["speedup"] >= 3,
            )
        )
    im = runs.get("import_csv", {}).get("result")
    if im:
        rows.append(
            (
                f"5. import {im['patients']:,} patients (SQLite) vs bare executemany",
                f"{im['seconds']:.1f} s vs {im['bare_seconds']:.2f} s = {im['ratio']:.1f}x",
                "< 8 s, within 10x",
                im["seconds"] < 8 and im["ratio"] <= 10,
            )
        )
    si = runs.get("sign_in_timing", {}).get("result")
    if si:
        rows.append(
            (
                "6. sign-in time, email with an account vs without",
                f"{si['known_ms']:.0f} vs {si['unknown_ms']:.0f} ms = {si['ratio']:.2f}x",
                "within 1.5x",
                si["ratio"] <= 1.5,
            )
        )
    return rows + report_scale.verdicts(runs)


# -- RESULTS.md ----------------------------------------------------------------------------------


def _mark(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "n/a"}[met]


def markdown(info: dict[str, Any], runs: dict[str, Any], quick: bool, command: str) -> str:
    lines = ["# Benchmark results", ""]
    if quick:
        lines += [
            "**Smoke run (`--quick`): sizes are reduced; these numbers say nothing about the targets.**",
            "",
        ]
    lines += [
        f"Written by `{command}`; machine details taken {info['date']}; the last table says when each",
        "benchmark ran and against which code. Each benchmark ran in its own process, and the fake Twilio",
        "in a process of its own. Ratios are measured within one run, side by side.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {info['cpu_model']}, {info['cores']} cores |",
        f"| memory | {info['memory_gib']} GiB |",
        f"| OS | {info['os']} |",
        f"| Python | {info['python']} |",
        f"| SQLite | {info['sqlite']} |",
        f"| PostgreSQL | {info['postgresql']} (127.0.0.1, default settings) |",
        f"| SQLAlchemy / psycopg | {info['sqlalchemy']} / {info['psycopg']} |",
        f"| APScheduler | {info['apscheduler']} |",
        f"| twilio | {info['twilio']} |",
        "",
        "The machine was shared with other work while these ran: the 1-minute load average around each",
        "benchmark is in the last table. Absolute rates move with that load; the side-by-side ratios",
        "much less.",
        "",
        "## Targets",
        "",
        "| target | measured | goal | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {g} | {_mark(v)} |" for t, m, g, v in verdicts(runs)]
    lines += [
        "",
        "Why the missed targets are missed, with profiles, and the changes suggested: "
        "[README.md, Findings](README.md#findings).",
        "",
        "![results](results.png)",
        "",
    ]
    lines += _details(runs)
    lines += [
        "## Runs",
        "",
        "Code under test: a hash of `scheduler/**/*.py` and `tests/support/fake_twilio.py` when each",
        "benchmark started (other people work on the code meanwhile; a change during a run is flagged).",
        "",
        "| benchmark | finished (UTC) | wall time | exit | 1-min load avg before -> after | code |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in runs.items():
        code = entry.get("code", "not recorded")
        if entry.get("code_changed"):
            code += " (changed during the run)"
        lines.append(
            f"| {name} | {entry.get('finished', '')} | {entry['seconds']:.0f} s | {entry['returncode']} | "
            f"{entry['load_before'][0]} -> {entry['load_after'][0]} | {code} |"
        )
    return "\n".join(lines) + "\n"


def _details(runs: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    tp = runs.get("throughput", {}).get("result")
    if tp:
        lines += [
            "## 1. Dispatch throughput, one worker",
            "",
            f"Medians of {tp['runs']} runs; {tp['threads']} sender threads on both sides. Each run times "
            "the raw loop and then the dispatcher, back to back; the ratio is the median of the runs' "
            "own ratios (the ratio of the two medians beside it). Fake CPU is the fake process's CPU "
            "use (1.0 = one core) during the run.",
            "",
            "| fake latency | DB | texts | raw twilio-python | Dispatcher.drain | ratio (of medians) "
            "| runs (raw / ours) | runs' ratios | fake CPU raw / ours |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for x in tp["cases"]:
            paired_txt = ", ".join(f"{v:.0%}" for v in x["paired_ratios"])
            of_medians = f"{x['ratio_of_medians']:.0%}"
            runs_txt = (
                ", ".join(f"{v:.0f}" for v in x["raw_runs"])
                + " / "
                + ", ".join(f"{v:.0f}" for v in x["dispatch_runs"])
            )
            lines.append(
                f"| {x['latency_ms']} ms | {x['backend']} | {x['texts']} | {x['raw_rate']:.0f}/s | "
                f"{x['dispatch_rate']:.0f}/s | {x['ratio']:.0%} ({of_medians}) | {runs_txt} | {paired_txt} | "
                f"{x['fake_cpu_raw']:.2f} / {x['fake_cpu_dispatch']:.2f} |"
            )
        lines.append("")
    idle = runs.get("idle", {}).get("result")
    if idle:
        lines += [
            "## 2. Idle tick and worker memory",
            "",
            f"Tick: median and p95 of {idle['ticks']} idle `Dispatcher.drain()` calls. RSS: a real "
            f"`reminders worker` after idle ticks (median of {idle['runs']}).",
            "",
            "| DB | pending future reminders | bulk load | tick p50 | tick p95 | worker RSS | claim plan |",
            "|---|---|---|---|---|---|---|",
        ]
        for x in idle["cases"]:
            lines.append(
                f"| {x['backend']} | {x['size']:,} | {x['seed_seconds']} s | {x['tick_ms_median']:.2f} ms | "
                f"{x['tick_ms_p95']:.2f} ms | {x['rss_mib']:.1f} MiB | {x['plan'][:90]} |"
            )
        lines.append("")
    cu = runs.get("catchup", {}).get("result")
    if cu:
        lines += [
            "## 3. Catch-up after an outage",
            "",
            f"{cu['texts']:,} texts overdue; fake latency {cu['latency_ms']:.0f} ms; "
            f"{cu['runs']} run(s) per case. "
            "Ours: time from starting the worker processes to the last text the fake accepted. "
            "Per-job: time from the restarted scheduler's `start()` to its last job event.",
            "",
            "| case | time | texts sent (fake) | texts/s | peak RSS | notes |",
            "|---|---|---|---|---|---|",
        ]
        for x in cu["ours"]:
            lines.append(
                f"| raw twilio-python, {x['raw_threads']} threads | {x['raw_seconds']:.1f} s "
                f"| {cu['texts']:,} | {x['raw_rate']:.0f} | | "
                f"the yardstick for the next row: ours = {x['vs_raw']:.0%} of it |"
            )
            lines.append(
                f"| ours, {x['backend']} x{x['workers']} worker(s) | {x['seconds']:.1f} s | {x['sent']:,} "
                f"({x['distinct_to']:,} numbers) | {x['rate']:.0f} | {x['peak_rss_mib']} MiB per worker | "
                f"final statuses {x['statuses']}; {x.get('pauses', 0)} pauses between ticks, "
                f"{x.get('pause_seconds', 0):.0f} s without a send |"
            )
        for x in cu["baseline"]:
            note = (
                f"{x['missed']:,} jobs missed (EVENT_JOB_MISSED) and deleted, {x['executed']:,} run, "
                f"{x['errors']:,} failed; {x['jobs_left']} left in the store; scheduling took "
                f"{x['schedule_seconds']:.0f} s"
            )
            lines.append(
                f"| per-job APScheduler, misfire_grace_time {x['misfire']} | {x['seconds']:.1f} s | "
                f"{x['sent']:,} | {x['sent'] / max(x['seconds'], 1e-9):.0f} | {x['peak_rss_mib']} MiB | "
                f"{note} |"
            )
        lines += [
            "",
            "With APScheduler's defaults (misfire_grace_time=1 s pickled into each job), every job that "
            "was overdue by more than a second at restart is reported missed, deleted from the store, "
            "and never sent: APScheduler's own documentation describes the same (a job late by more "
            "than its misfire grace time is skipped).",
            "",
        ]
    so = runs.get("scaleout", {}).get("result")
    if so:
        lines += [
            "## 4. Scale-out on PostgreSQL",
            "",
            f"{so['texts']:,} texts per run, fake latency {so['latency_ms']:.0f} ms, medians of {so['runs']} "
            f"runs; DISPATCH_INTERVAL_SECONDS={so['interval']:g}. Rate: first to last text accepted "
            "by the fake.",
            "",
            "| workers | texts/s | speedup | ideal (threads / latency) | runs | start-up |",
            "|---|---|---|---|---|---|",
        ]
        for x in so["cases"]:
            lines.append(
                f"| {x['workers']} | {x['rate']:.1f} | {x['speedup']:.2f}x | {x['ideal_rate'] or 0:.0f} | "
                f"{', '.join(f'{v:.1f}' for v in x['runs'])} | {x['startup']:.1f} s |"
            )
        lines += [
            "",
            "Fake capacity at the same latency (raw twilio-python, many threads): "
            + "; ".join(
                f"{f['threads']} threads -> {f['rate']:.0f}/s (ideal {f['ideal']:.0f})"
                for f in so["fake_capacity"]
            )
            + ".",
            "",
        ]
    im = runs.get("import_csv", {}).get("result")
    if im:
        lines += [
            "## 5. CSV import",
            "",
            f"`reminders import` of {im['patients']:,} patients on SQLite: median {im['seconds']:.1f} s "
            f"(runs: {', '.join(f'{v:.1f}' for v in im['runs'])} s); {im['reminders']:,} reminder rows "
            f"planned. The same rows ({', '.join(f'{n:,} {t}' for t, n in im['rows'].items())}) inserted "
            f"with a bare `sqlite3` executemany: median {im['bare_seconds']:.2f} s "
            f"(runs: {', '.join(f'{v:.2f}' for v in im['bare_runs'])} s); ratio {im['ratio']:.1f}x.",
            "",
        ]
    si = runs.get("sign_in_timing", {}).get("result")
    if si:
        lines += [
            "## 6. Sign-in timing",
            "",
            f"A wrong password posted to `reminders serve`'s sign-in form, {si['tries']} times each, "
            "alternating: for an email with an account, median "
            f"{si['known_ms']:.1f} ms (p95 {si['known_p95_ms']:.1f}); for one without, median "
            f"{si['unknown_ms']:.1f} ms (p95 {si['unknown_p95_ms']:.1f}). Ratio {si['ratio']:.2f}x: the "
            "delay does not tell whether a staff email exists.",
            "",
        ]
    return lines + report_scale.details(runs)


# -- the chart -----------------------------------------------------------------------------------


def chart(runs: dict[str, Any], path: Path) -> None:  # noqa: PLR0915 - one panel per benchmark
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(16, 14))
    fig.suptitle("Treatment-reminder dispatch benchmarks", fontsize=14, fontweight="bold")
    ax = axes[0][0]
    tp = runs.get("throughput", {}).get("result")
    if tp:
        cases = tp["cases"]
        x = range(len(cases))
        ax.bar(
            [i - 0.2 for i in x],
            [k["raw_rate"] for k in cases],
            0.4,
            label="raw twilio-python (ceiling)",
            color="#9e9e9e",
        )
        ax.bar(
            [i + 0.2 for i in x],
            [k["dispatch_rate"] for k in cases],
            0.4,
            label="Dispatcher.drain",
            color="#1f77b4",
        )
        for i, k in enumerate(cases):
            ax.text(i + 0.2, k["dispatch_rate"], f"{k['ratio']:.0%}", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(list(x), [f"{k['latency_ms']} ms\n{k['backend']}" for k in cases])
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel("texts / s (log scale)")
        ax.legend(fontsize=8)
    ax.set_title("1. One worker vs raw client (target >= 90% SQLite, 85% PG at 0 ms)", fontsize=10)

    idle = runs.get("idle", {}).get("result")
    for ax, key, title, unit in (
        (axes[0][1], "tick_ms_median", "2a. Idle tick (target < 10 ms at 1M)", "ms"),
        (axes[0][2], "rss_mib", "2b. Worker RSS (target: 1M within 10 MB of 10k)", "MiB"),
    ):
        if idle:
            for backend, color in (("sqlite", "#2ca02c"), ("postgresql", "#9467bd")):
                cases = sorted((k for k in idle["cases"] if k["backend"] == backend), key=lambda k: k["size"])
                if cases:
                    ax.plot(
                        [k["size"] for k in cases], [k[key] for k in cases], "o-", color=color, label=backend
                    )
                    for k in cases:
                        ax.annotate(
                            f"{k[key]:.1f}",
                            (k["size"], k[key]),
                            textcoords="offset points",
                            xytext=(0, 6),
                            ha="center",
                            fontsize=8,
                        )
            ax.set_xscale("log")
            ax.set_xlabel("pending future reminders")
            ax.legend(fontsize=8)
            if key == "tick_ms_median":
                ax.axhline(10, color="red", linestyle="--", linewidth=1)
                ax.set_yscale("log")
            else:
                ax.set_ylim(0, max(k["rss_mib"] for k in idle["cases"]) * 1.2)
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=10)

    ax = axes[1][0]
    cu = runs.get("catchup", {}).get("result")
    if cu:
        labels, rates, colors, notes = [], [], [], []
        for k in cu["ours"]:
            labels += [f"raw client\n{k['raw_threads']} threads", f"ours\n{k['backend']} x{k['workers']}"]
            rates += [k["raw_rate"], k["rate"]]
            colors += ["#9e9e9e", "#1f77b4"]
            notes += [f"{cu['texts']:,}", f"{k['sent']:,} sent\n{k['vs_raw']:.0%}"]
        for k in cu["baseline"]:
            labels.append(f"per-job\ngrace {k['misfire']}")
            rates.append(k["sent"] / max(k["seconds"], 1e-9))
            colors.append("#d62728")
            notes.append(f"{k['sent']:,} sent")
        bars = ax.bar(range(len(rates)), rates, color=colors)
        for bar, note in zip(bars, notes, strict=True):
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height(),
                note,
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_xticks(range(len(rates)), labels, fontsize=7)
        ax.set_ylabel("texts / s over the whole backlog")
        ax.margins(y=0.25)
        ax.set_title(
            f"3. Catch-up of {cu['texts']:,} overdue texts (target: ours >= 90% of raw)", fontsize=10
        )
    else:
        ax.set_title("3. Catch-up", fontsize=10)

    ax = axes[1][1]
    so = runs.get("scaleout", {}).get("result")
    if so:
        workers = [k["workers"] for k in so["cases"]]
        ax.plot(workers, [k["rate"] for k in so["cases"]], "o-", label="measured", color="#1f77b4")
        ax.plot(
            workers,
            [so["cases"][0]["rate"] * w for w in workers],
            "--",
            color="#9e9e9e",
            label="linear from 1 worker",
        )
        ax.plot(
            workers,
            [3 * so["cases"][0]["rate"] if w == max(workers) else None for w in workers],
            "r_",
            markersize=20,
            label="target (3x at 4)",
        )
        for k in so["cases"]:
            ax.annotate(
                f"{k['rate']:.0f}/s ({k['speedup']:.1f}x)",
                (k["workers"], k["rate"]),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(workers)
        top = max([so["cases"][0]["rate"] * max(workers)] + [k["rate"] for k in so["cases"]])
        ax.set_ylim(0, top * 1.15)
        ax.set_xlabel("worker processes")
        ax.set_ylabel("texts / s")
        ax.legend(fontsize=8)
        ax.set_title(
            f"4. Scale-out, PostgreSQL, {so['latency_ms']:.0f} ms latency (target >= 3x)", fontsize=10
        )

    ax = axes[1][2]
    im = runs.get("import_csv", {}).get("result")
    if im:
        ax.bar([0, 1], [im["bare_seconds"], im["seconds"]], color=["#9e9e9e", "#1f77b4"], width=0.5)
        ax.set_ylim(0, max(im["seconds"], 8) * 1.2)
        ax.axhline(8, color="red", linestyle="--", linewidth=1, label="target 8 s")
        ax.text(0, im["bare_seconds"], f"{im['bare_seconds']:.2f} s", ha="center", va="bottom")
        ax.text(1, im["seconds"], f"{im['seconds']:.1f} s ({im['ratio']:.1f}x)", ha="center", va="bottom")
        ax.set_xticks(
            [0, 1], ["bare executemany\nof the same rows", f"reminders import\n{im['patients']:,} patients"]
        )
        ax.set_xlim(-0.7, 1.7)
        ax.set_ylabel("seconds (SQLite)")
        ax.legend(fontsize=8)
    ax.set_title("5. reminders import (target < 8 s, within 10x)", fontsize=10)
    report_scale.draw(runs, axes[2][0], axes[2][1])
    axes[2][2].axis("off")
    for row in axes:
        for a in row:
            a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    c.require("matplotlib", "psutil")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke-run every benchmark")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--catchup-texts",
        type=int,
        default=50_000,
        help="catch-up backlog (default: the issue's 50,000; 10,000 saves about 4 minutes)",
    )
    parser.add_argument("--catchup-ours", default="sqlite:1,postgresql:4", help="catch-up worker configs")
    parser.add_argument("--catchup-baseline", default="default,none", help="per-job baseline modes")
    parser.add_argument("--page-requests", type=int, default=10, help="timed requests per page and size")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md/png from bench/out")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    extra = {
        "catchup": [
            "--texts",
            str(args.catchup_texts),
            "--ours",
            args.catchup_ours,
            "--baseline",
            args.catchup_baseline,
        ],
        "pages": ["--requests", str(args.page_requests)],
    }
    if args.quick:
        extra = {}
    # A smoke run keeps its own files, so that it never overwrites the real results.
    out, suffix = (OUT / "quick", "-quick") if args.quick else (OUT, "")
    summary, meta_path = out / "runs.json", out / "meta.json"
    if args.report_only:
        runs = json.loads(summary.read_text(encoding="utf-8"))
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    else:
        out.mkdir(parents=True, exist_ok=True)
        previous = json.loads(summary.read_text(encoding="utf-8")) if args.only and summary.exists() else {}
        meta = {
            "command": "bench/run_all.py"
            + (" --quick" if args.quick else f" --catchup-texts {args.catchup_texts}"),
            "quick": args.quick,
            "machine": c.machine_info(),
        }
        runs = {**previous, **run_benchmarks(names, args.quick, extra, out)}
        runs = {name: runs[name] for name in BENCHMARKS if name in runs}
        summary.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    text = markdown(meta["machine"], runs, meta["quick"], meta["command"])
    report, picture = c.BENCH / f"RESULTS{suffix}.md", c.BENCH / f"results{suffix}.png"
    report.write_text(text.replace("(results.png)", f"({picture.name})"), encoding="utf-8")
    chart(runs, picture)
    c.log(f"wrote {report.relative_to(c.ROOT)} and {picture.relative_to(c.ROOT)}")
    for target, measured, goal, met in verdicts(runs):
        print(f"{_mark(met):>10}  {target}: {measured} (goal {goal})")


if __name__ == "__main__":
    main()
