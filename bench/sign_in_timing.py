"""Sign-in timing: does the answer's delay tell whether an email has an account?

Posts the sign-in form of `reminders serve` (real HTTP, real argon2 hashes, SQLite) with a wrong
password for an email that has an account and for one that does not, alternating, each from its
own address so no throttle applies, and compares the median times. Target: within 1.5x either way
(before: about 3 ms unknown vs 170 ms known, 50x).

    .venv/bin/python bench/sign_in_timing.py [--quick] [--tries 40] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import _common as c

from scheduler.app import build
from scheduler.services.accounts import Accounts
from scheduler.store.db import upgrade
from tests.support import make_settings
from tests.support.server import serving

KNOWN = "nurse@example.org"
UNKNOWN = "nobody@example.org"


def attempt(url: str, email: str, address: str) -> float:
    """Seconds to answer one wrong-password sign-in (the form's page fetched first, untimed)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{url}/login").read().decode()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    form = {"email": email, "password": "not the password", "csrf": found.group(1)}
    request = urllib.request.Request(
        f"{url}/login", data=urllib.parse.urlencode(form).encode(), headers={"X-Forwarded-For": address}
    )
    start = time.perf_counter()
    try:
        opener.open(request).read()
    except urllib.error.HTTPError as refused:
        if refused.code != 401:
            raise
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=40, help="wrong-password sign-ins per email")
    parser.add_argument("--quick", action="store_true", help="10 tries each")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    tries = 10 if args.quick else args.tries
    with tempfile.TemporaryDirectory(prefix="bench_") as work:
        folder = Path(work)
        url = f"sqlite:///{folder / 'reminders.db'}"
        upgrade(url)
        app = build(make_settings(url))
        Accounts(app.database, app.clock).add_user(KNOWN, "the right long password")
        app.close()
        times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
        with serving(folder, url, {"SMS_BACKEND": "console"}, worker=False) as server:
            for email in (KNOWN, UNKNOWN):  # warm up
                attempt(server.url, email, "warm-up")
            for i in range(tries):
                # The throttle allows a few failures per account and address; under it, every
                # try is a full check. Beyond it the answer is "too many attempts" for both alike.
                for email in (KNOWN, UNKNOWN) if i % 2 else (UNKNOWN, KNOWN):
                    times[email].append(attempt(server.url, email, f"try-{i}"))
    known, unknown = c.median(times[KNOWN]) * 1000, c.median(times[UNKNOWN]) * 1000
    ratio = max(known, unknown) / min(known, unknown)
    print("| email | median | p95 |")
    print("|---|---|---|")
    print(f"| has an account | {known:.1f} ms | {c.percentile(times[KNOWN], 95) * 1000:.1f} ms |")
    print(f"| has none | {unknown:.1f} ms | {c.percentile(times[UNKNOWN], 95) * 1000:.1f} ms |")
    print(f"\nratio {ratio:.2f}x over {tries} tries each (target within 1.5x)")
    c.write_json(
        args.json,
        {
            "tries": tries,
            "known_ms": round(known, 1),
            "unknown_ms": round(unknown, 1),
            "known_p95_ms": round(c.percentile(times[KNOWN], 95) * 1000, 1),
            "unknown_p95_ms": round(c.percentile(times[UNKNOWN], 95) * 1000, 1),
            "ratio": round(ratio, 3),
        },
    )


if __name__ == "__main__":
    main()
