"""`reminders worker` with test-sized timings, for the fault tests.

The retry backoff and the number of attempts are not settings (minutes long by default), so a
fault test could not settle in seconds. This script runs the product's own `run_worker`, passing it
a `DispatchOptions` and a reconcile interval built from:

    FAULT_LEASE_SECONDS              the claim lease (product default 300)
    FAULT_RECONCILE_AFTER_SECONDS    wait before an `unknown` send is looked up (default 120)
    FAULT_RECONCILE_INTERVAL_SECONDS how often the reconciler runs (default 60)
    FAULT_RETRY_BASE_SECONDS         first backoff after a 429 (default 30; the cap becomes 4x)
    FAULT_MAX_ATTEMPTS               attempts before `failed` (default 5)

Everything else (settings, sender, scheduler, signal handling) is the product's.
Run it as a script: `python tests/faults/fault_worker.py`.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from scheduler.app import build, load_settings
from scheduler.cli.base import configure_logging
from scheduler.dispatch import DispatchOptions
from scheduler.domain.outcomes import RetryPolicy
from scheduler.runner import RECONCILE_INTERVAL_SECONDS, run_worker


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def options_from_env() -> DispatchOptions:
    defaults = DispatchOptions()
    retry = defaults.retry
    if os.environ.get("FAULT_RETRY_BASE_SECONDS", "").strip():
        base = timedelta(seconds=_seconds("FAULT_RETRY_BASE_SECONDS", 0))
        retry = RetryPolicy(max_attempts=retry.max_attempts, base=base, cap=base * 4)
    attempts = int(_seconds("FAULT_MAX_ATTEMPTS", retry.max_attempts))
    return DispatchOptions(
        lease=timedelta(seconds=_seconds("FAULT_LEASE_SECONDS", defaults.lease.total_seconds())),
        reconcile_after=timedelta(
            seconds=_seconds("FAULT_RECONCILE_AFTER_SECONDS", defaults.reconcile_after.total_seconds())
        ),
        retry=RetryPolicy(max_attempts=attempts, base=retry.base, cap=retry.cap),
    )


def main() -> None:
    configure_logging()
    interval = _seconds("FAULT_RECONCILE_INTERVAL_SECONDS", RECONCILE_INTERVAL_SECONDS)
    app = build(load_settings())
    try:
        run_worker(app, options_from_env(), reconcile_interval_seconds=interval)
    finally:
        app.close()


if __name__ == "__main__":
    main()
    sys.exit(0)
