"""`reminders worker` with test-sized timings, for the fault tests.

The product reads neither the claim lease, nor the reconciler's wait and interval, nor the retry
backoff from the environment (all are minutes long by default), so a fault test could not settle in
seconds. This wrapper runs the product's own `run_worker` with a `DispatchOptions` built from:

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

from scheduler import runner
from scheduler.app import App, build, load_settings
from scheduler.cli import configure_logging
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.domain.gates import RetryPolicy


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
    options = options_from_env()
    product_make_dispatcher = runner.make_dispatcher

    def make_dispatcher(app: App, _options: DispatchOptions | None = None) -> Dispatcher:
        return product_make_dispatcher(app, options)

    # run_worker looks both names up in its module when it runs.
    setattr(runner, "make_dispatcher", make_dispatcher)  # noqa: B010
    runner.RECONCILE_INTERVAL_SECONDS = int(
        _seconds("FAULT_RECONCILE_INTERVAL_SECONDS", runner.RECONCILE_INTERVAL_SECONDS)
    )
    app = build(load_settings())
    try:
        runner.run_worker(app)
    finally:
        app.close()


if __name__ == "__main__":
    main()
    sys.exit(0)
