"""Benchmark 8: every admin page and API list at a large clinic's size, over real HTTP.

Two PostgreSQL databases seeded by `seed_large.py` (1,000 and 100,000 patients; seeded first if
missing, migrated to this code's schema if older), each served by its own `reminders serve
--no-worker` on loopback. A staff user signs in through the login form (a real session cookie)
and an API token is made; then every path in `PATHS` is requested on both servers, interleaved
(small, large, small, large ...), and timed from request to the last byte of the answer.
Reported: p50 and p95 per path and size, and the ratio of the p95s.

Then, for the paths whose p95 at the large size misses the target, the app is run in-process on
the large database with every SQL statement timed, and the slowest statements of that page are
`EXPLAIN (ANALYZE, BUFFERS)`ed: the plans go into the JSON and RESULTS.md.

Targets: p95 <= 150 ms at 100,000 patients, and within 3x of the same page at 1,000.

To measure another page, add a line to `PATHS`: a name, the path (`{patient}` becomes a patient's
id, `{today}` today's date, `{cursor}` a cursor to the middle of the patient list, `{since}` an
hour ago), and whether it needs the API token instead of the staff session.

    .venv/bin/python bench/pages.py [--quick] [--requests 30] [--sizes 1000,100000] [--paths "Today;the week"]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c
import seed_large


@dataclass(frozen=True)
class Measured:
    name: str
    path: str
    api: bool = False


# Every page and API list measured. `{patient}` is a patient in the middle of the list.
PATHS: list[Measured] = [
    Measured("Today", "/"),
    Measured("patients, first page", "/patients"),
    # The last page at 1,000 patients: a page of 50 at both sizes (page 100 is empty at 1,000).
    Measured("patients, page 20", "/patients?offset=950"),
    Measured("patients, search by name", "/patients?q=rivera"),
    Measured("patients, search by phone", "/patients?q=555-1234"),
    Measured("patients, search by record number", "/patients?q=MRN0000777"),
    Measured("patients, attention", "/patients?status=attention"),
    Measured("a patient's page", "/patients/{patient}"),
    Measured("the week", "/week"),
    Measured("a day of the week", "/week/day?date={today}"),
    Measured("messages", "/messages"),
    Measured("messages, replies", "/messages?show=replies"),
    Measured("messages, search", "/messages?q=rivera"),
    Measured("events", "/events"),
    Measured("reports", "/reports"),
    Measured("API: patients, first page", "/api/v1/patients", api=True),
    Measured("API: patients, page after a cursor", "/api/v1/patients?cursor={cursor}", api=True),
    Measured("API: patients, search", "/api/v1/patients?q=rivera", api=True),
    Measured("API: patients, attention", "/api/v1/patients?status=attention", api=True),
    Measured("API: patients, by record number", "/api/v1/patients?external_id=MRN0000777", api=True),
    Measured("API: patients, changed since", "/api/v1/patients?updated_since={since}", api=True),
    Measured("API: a patient", "/api/v1/patients/{patient}", api=True),
    Measured("API: a patient's replies", "/api/v1/patients/{patient}/replies", api=True),
    Measured("API: events", "/api/v1/events", api=True),
    Measured("API: weekly report", "/api/v1/reports/weekly", api=True),
]
EMAIL, PASSWORD = "bench-staff@example.org", "a long enough bench password"
TARGET_MS, TARGET_RATIO = 150.0, 3.0


def prepare(patients: int) -> tuple[str, str]:
    """The seeded database for `patients` (seeding or migrating as needed), a staff account in it,
    and an API token; the URL and the token."""
    from scheduler.app import build
    from scheduler.services.accounts import Accounts
    from scheduler.services.api_tokens import ApiTokens
    from scheduler.store.db import upgrade
    from tests.support import make_settings

    if not seed_large.exists(patients):
        url = seed_large.database_url(patients)
        try:
            upgrade(url)  # seeded by an older schema: indexes added since are built now
        except Exception:
            url = ""
        if not url or not seed_large.exists(patients):
            c.log(f"seeding {patients:,} patients")
            seed_large.seed(patients)
    url = seed_large.database_url(patients)
    app = build(make_settings(url))
    try:
        with app.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("DELETE FROM staff_sessions"))
            conn.execute(text("DELETE FROM users WHERE email = :e"), {"e": EMAIL})
            conn.execute(text("DELETE FROM api_tokens WHERE name LIKE 'bench-%'"))
        Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
        token = ApiTokens(app.database, app.clock).add(f"bench-{time.time_ns()}")
    finally:
        app.close()
    return url, token


@contextmanager
def signed_in(url: str, token: str, folder: Path) -> Iterator[tuple[Any, Any]]:
    """A served app and two HTTP clients: one signed in as staff, one with the API token."""
    import httpx

    from tests.support.server import serving
    from tests.support.staff_client import sign_in

    with ExitStack() as stack:
        server = stack.enter_context(serving(folder, url, {"SMS_BACKEND": "console"}, worker=False))
        staff = stack.enter_context(httpx.Client(base_url=server.url, timeout=60))
        bearer = {"Authorization": f"Bearer {token}"}
        api = stack.enter_context(httpx.Client(base_url=server.url, timeout=60, headers=bearer))
        answer = sign_in(staff, EMAIL, PASSWORD)  # type: ignore[arg-type]
        assert answer.status_code in (302, 303), answer.status_code
        yield staff, api


def resolve(path: str, patients: int) -> str:
    from scheduler.web.api_paging import encode

    now = datetime.now(UTC)
    return path.format(
        patient=patients // 2 + 1,
        today=now.date().isoformat(),
        cursor=encode("p", patients // 2),  # a page in the middle
        since=(now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),  # an EHR's hourly poll
    )


def timed_get(client: Any, path: str) -> float:
    start = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def measure(sizes: list[int], requests: int) -> dict[str, Any]:
    """p50/p95 of every path on every size, requests interleaved across sizes."""
    prepared = {n: prepare(n) for n in sizes}
    times: dict[tuple[str, int], list[float]] = {}
    with ExitStack() as stack:
        clients = {}
        for n in sizes:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench_pages_{n}_")))
            clients[n] = stack.enter_context(signed_in(*prepared[n], folder))
        for item in PATHS:
            for n in sizes:  # warm up: the first request of a path compiles its statements
                staff, api = clients[n]
                timed_get(api if item.api else staff, resolve(item.path, n))
            for _ in range(requests):
                for n in sizes:
                    staff, api = clients[n]
                    took = timed_get(api if item.api else staff, resolve(item.path, n))
                    times.setdefault((item.name, n), []).append(took)
            c.log(
                f"{item.name}: "
                + ", ".join(
                    f"{n:,} p95 {c.percentile(times[(item.name, n)], 95) * 1000:.0f} ms" for n in sizes
                )
            )
    cases = []
    for item in PATHS:
        row: dict[str, Any] = {"name": item.name, "path": item.path, "api": item.api}
        for n in sizes:
            values = times[(item.name, n)]
            row[str(n)] = {"p50_ms": c.median(values) * 1000, "p95_ms": c.percentile(values, 95) * 1000}
        cases.append(row)
    return {"sizes": sizes, "requests": requests, "cases": cases, "urls": {n: prepared[n][0] for n in sizes}}


def explain_slow(url: str, patients: int, names: list[str], top: int = 2) -> dict[str, list[dict[str, Any]]]:
    """The slowest statements of each named page, in-process, with their EXPLAIN ANALYZE plans."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from scheduler.app import build
    from scheduler.web import create_app
    from tests.support import make_settings
    from tests.support.staff_client import sign_in

    app = build(make_settings(url))
    statements: list[tuple[float, str, Any]] = []

    @event.listens_for(app.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(app.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not many:
            statements.append((time.perf_counter() - conn.info.pop("bench_started"), statement, parameters))

    plans: dict[str, list[dict[str, Any]]] = {}
    token = prepare(patients)[1]
    try:
        with TestClient(create_app(app), base_url="http://127.0.0.1") as client:
            sign_in(client, EMAIL, PASSWORD)
            for item in PATHS:
                if item.name not in names:
                    continue
                path = resolve(item.path, patients)
                headers = {"Authorization": f"Bearer {token}"} if item.api else {}
                client.get(path, headers=headers)  # warm
                statements.clear()
                client.get(path, headers=headers)
                slowest = sorted(statements, key=lambda s: -s[0])[:top]
                found = []
                for seconds, statement, parameters in slowest:
                    with app.engine.connect() as conn:
                        lines = conn.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                        ).scalars()
                        found.append({"ms": seconds * 1000, "sql": statement, "plan": "\n".join(lines)})
                plans[item.name] = found
    finally:
        app.close()
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000", help="patients in each database")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per path and size")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 and 5,000, 5 requests")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--paths", help="only these (names from PATHS, separated by ;), to look at some")
    args = parser.parse_args()
    if args.paths:
        wanted = {name.strip() for name in args.paths.split(";")}
        unknown = wanted - {item.name for item in PATHS}
        if unknown:
            parser.error(f"no such path: {', '.join(sorted(unknown))}")
        PATHS[:] = [item for item in PATHS if item.name in wanted]
    if args.quick:
        args.sizes, args.requests = "1000,5000", 5
    sizes = [int(s) for s in args.sizes.split(",")]
    small, large = sizes[0], sizes[-1]
    results = measure(sizes, args.requests)
    missed = []
    print(f"{'path':<36} " + " ".join(f"{f'p95 @{n:,}':>13}" for n in sizes) + f" {'ratio':>6}")
    for case in results["cases"]:
        p95 = {n: case[str(n)]["p95_ms"] for n in sizes}
        case["ratio"] = p95[large] / p95[small]
        case["met"] = p95[large] <= TARGET_MS and case["ratio"] <= TARGET_RATIO
        if not case["met"]:
            missed.append(case["name"])
        print(
            f"{case['name']:<36} "
            + " ".join(f"{p95[n]:>11.0f}ms" for n in sizes)
            + f" {case['ratio']:>5.1f}x{'' if case['met'] else '  MISSED'}"
        )
    c.log(f"explaining the slowest statements of {len(missed) or 'no'} page(s)")
    results["plans"] = explain_slow(results["urls"][large], large, missed) if missed else {}
    results["missed"] = missed
    results.pop("urls")
    c.write_json(args.json, results)


if __name__ == "__main__":
    main()
