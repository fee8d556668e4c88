"""Benchmark 7: how long the `reminders` command takes to start, against `python -c "import click"`.

Side by side, interleaved, each a fresh process: `python -c "import click"` (the floor: an
interpreter and the CLI library), `reminders --help`, `reminders protocols` and `reminders preview`
(the commands that open no database; every other one opens it and imports SQLAlchemy by design).
Also lists the heavy
libraries (SQLAlchemy, FastAPI, twilio, pydantic) each light command imports (`-X importtime`).
Target: `reminders --help` within 3x of `import click`.

    .venv/bin/python bench/startup.py [--quick] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _common as c

HEAVY = ("sqlalchemy", "fastapi", "starlette", "twilio", "pydantic", "psycopg", "apscheduler", "jinja2")


def cases() -> dict[str, list[str]]:
    return {
        "import click": [c.PYTHON, "-c", "import click"],
        "reminders --help": [c.REMINDERS, "--help"],
        "reminders protocols": [c.REMINDERS, "protocols"],
        "reminders preview": [
            c.REMINDERS,
            "preview",
            "--first",
            f"{datetime.now(UTC).date() + timedelta(days=30)} 10:00",
            "--timezone",
            "America/New_York",
        ],
    }


def environment(workdir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TWILIO_"))}
    env["ENV_FILE"] = os.path.join(workdir, "bench.env")
    return env


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_imports(argv: list[str], env: dict[str, str], cwd: str) -> list[str]:
    """The heavy top-level packages a command imports."""
    if argv[0] == c.REMINDERS:
        argv = [c.PYTHON, "-X", "importtime", "-m", "scheduler", *argv[1:]]
    else:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    done = subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True, text=True)
    found = set()
    for line in done.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip().split(".")[0]
        if name in HEAVY:
            found.add(name)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command, interleaved")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 runs")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as workdir:
        with open(os.path.join(workdir, "bench.env"), "w") as f:
            f.write("")
        env = environment(workdir)
        commands = cases()
        for argv in commands.values():
            timed(argv, env, workdir)  # warm the page cache and .pyc files
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _run in range(args.runs):
            for name, argv in commands.items():
                times[name].append(timed(argv, env, workdir))
        imports = {name: heavy_imports(argv, env, workdir) for name, argv in commands.items()}
    floor = c.median(times["import click"])
    results: dict[str, Any] = {"runs": args.runs, "cases": []}
    print(f"{'command':<22} {'median':>8} {'p95':>8} {'x click':>8}  heavy imports")
    for name, values in times.items():
        case = {
            "command": name,
            "median_s": c.median(values),
            "p95_s": c.percentile(values, 95),
            "ratio": c.median(values) / floor,
            "runs_s": values,
            "heavy_imports": imports[name],
        }
        results["cases"].append(case)
        print(
            f"{name:<22} {case['median_s'] * 1000:>6.0f}ms {case['p95_s'] * 1000:>6.0f}ms "
            f"{case['ratio']:>7.2f}x  {', '.join(imports[name]) or '-'}"
        )
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
