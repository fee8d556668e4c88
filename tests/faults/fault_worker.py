"""`reminders worker` with a test-sized retry policy, for the fault tests.

The retry backoff and the number of attempts are not settings (the first retry waits 30 s), so a
fault test that makes Twilio refuse requests could not settle in seconds. This script runs the
product's own `run_worker`, passing it a `DispatchOptions` whose retry policy comes from:

    FAULT_RETRY_BASE_SECONDS         first backoff after a 429 (default 30; the cap becomes 4x)
    FAULT_MAX_ATTEMPTS               attempts before `failed` (default 5)

Everything else (settings, among them the lease and the reconciler's wait, sender, scheduler,
heartbeat, signal handling) is the product's. Run it as a script: `python tests/faults/fault_worker.py`.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from scheduler.app import build, load_settings
from scheduler.cli.base import configure_logging
from scheduler.dispatch import DispatchOptions
from scheduler.domain.outcomes import RetryPolicy
from scheduler.runner import run_worker


def options_from_env() -> DispatchOptions:
    retry = DispatchOptions().retry
    base = os.environ.get("FAULT_RETRY_BASE_SECONDS", "").strip()
    if base:
        retry = RetryPolicy(
            max_attempts=retry.max_attempts,
            base=timedelta(seconds=float(base)),
            cap=timedelta(seconds=float(base)) * 4,
        )
    attempts = os.environ.get("FAULT_MAX_ATTEMPTS", "").strip()
    if attempts:
        retry = RetryPolicy(max_attempts=int(attempts), base=retry.base, cap=retry.cap)
    return DispatchOptions(retry=retry)


def main() -> None:
    configure_logging()
    app = build(load_settings())
    try:
        run_worker(app, options_from_env())
    finally:
        app.close()


if __name__ == "__main__":
    main()
    sys.exit(0)
