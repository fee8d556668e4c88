"""Benchmark 5: `reminders import` of 10,000 patients from CSV on SQLite (wall time), against a
bare `executemany` of the same rows.

Writes a CSV of N valid patients (distinct US mobile numbers, a mix of zones and protocols, first
sessions 1-60 days ahead), then times the installed `reminders import FILE --json` in a
subprocess against a fresh, migrated SQLite database: start-up, parsing, validation of every row,
and the one transaction that enrols every patient and plans their course. Side by side, in the
same run: the rows that import wrote (patients, appointments, reminders, audit entries) copied
into another fresh, migrated database with the `sqlite3` module's `executemany`, one statement
per table in one transaction, with the project's PRAGMAs (WAL, synchronous=NORMAL, foreign keys):
the floor for writing those rows from Python. Targets: under 8 s, and within 10x of the floor.

    .venv/bin/python bench/import_csv.py [--quick] [--patients 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c

ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Honolulu",
)
PROTOCOLS = ("iv-6x-mwf", "iv-6x-mwf", "iv-6x-2w", "esk-trd", "esk-mdsi", "touch-up-only")
AREA_CODES = ("201", "212", "312", "415", "617", "713", "206", "305", "404", "512")


def write_csv(path: Path, patients: int) -> None:
    """Zone, protocol, day and time drawn independently for each patient (a fixed seed), as a
    chain's roster would have them: at 10,000 patients nearly every course is one of a kind, so
    the import cannot lean on patients whose courses are alike."""
    today = datetime.now(UTC).date()
    draw = random.Random(15)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "phone", "timezone", "protocol", "first", "consent"])
        for i in range(patients):
            area = AREA_CODES[i // 10_000 % len(AREA_CODES)]
            first = today + timedelta(days=draw.randint(1, 60))
            writer.writerow(
                [
                    f"Patient {i:05d}",
                    f"({area}) 555-{i % 10_000:04d}",
                    draw.choice(ZONES),
                    draw.choice(PROTOCOLS),
                    f"{first.isoformat()} {draw.randint(9, 16):02d}:{draw.choice((0, 15, 30, 45)):02d}",
                    "intake-form",
                ]
            )


def run(csv_path: Path, patients: int) -> dict[str, Any]:
    with c.fresh_database("sqlite", "import") as url, tempfile.TemporaryDirectory(prefix="bench_") as cwd:
        env = c.base_env(url)
        start = time.perf_counter()
        proc = subprocess.run(
            [c.REMINDERS, "import", str(csv_path), "--json"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        imported = len(report.get("patient_ids", report.get("imported", [])) or [])
        statuses = c.reminder_statuses(url)
        bare = bare_executemany(url)
    return {
        "seconds": elapsed,
        "imported": imported,
        "reminders": sum(statuses.values()),
        "bare_seconds": bare["seconds"],
        "rows": bare["rows"],
    }


TABLES = ("patients", "appointments", "reminders", "audit_log")


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def bare_executemany(imported_url: str) -> dict[str, Any]:
    """The rows import wrote, inserted again into a fresh database with plain executemany."""
    src = sqlite3.connect(_path(imported_url))
    data = {}
    for table in TABLES:
        cursor = src.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        data[table] = (columns, cursor.fetchall())
    src.close()
    with c.fresh_database("sqlite", "bare") as url:
        dst = sqlite3.connect(_path(url), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            dst.execute(f"PRAGMA {pragma}")
        start = time.perf_counter()
        dst.execute("BEGIN IMMEDIATE")
        for table, (columns, rows) in data.items():
            marks = ", ".join("?" for _ in columns)
            dst.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        dst.execute("COMMIT")
        elapsed = time.perf_counter() - start
        dst.close()
    return {"seconds": elapsed, "rows": {t: len(rows) for t, (_c, rows) in data.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 patients, one run")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.runs = 500, 1
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        csv_path = Path(tmp) / "patients.csv"
        write_csv(csv_path, args.patients)
        runs = []
        for i in range(args.runs):
            runs.append(run(csv_path, args.patients))
            c.log(
                f"run {i + 1}: {runs[-1]['seconds']:.1f} s, "
                f"bare executemany {runs[-1]['bare_seconds']:.2f} s, "
                f"{runs[-1]['reminders']} reminders planned"
            )
    results = {
        "patients": args.patients,
        "runs": [r["seconds"] for r in runs],
        "seconds": c.median([r["seconds"] for r in runs]),
        "bare_runs": [r["bare_seconds"] for r in runs],
        "bare_seconds": c.median([r["bare_seconds"] for r in runs]),
        "ratio": c.median([r["seconds"] / r["bare_seconds"] for r in runs]),
        "rows": runs[-1]["rows"],
        "reminders": runs[-1]["reminders"],
        "imported": runs[-1]["imported"],
    }
    print(
        f"import of {args.patients} patients: {results['seconds']:.1f} s (median of {args.runs}); "
        f"bare executemany of the same rows {results['bare_seconds']:.2f} s; ratio {results['ratio']:.1f}x; "
        f"{results['reminders']} reminders planned"
    )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
