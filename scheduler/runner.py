"""APScheduler wiring only: the clock that makes a worker dispatch, reconcile and plan ahead.

The database is the queue. Each worker keeps its jobs in APScheduler's in-memory store and adds
them again at start, so nothing is pickled, nothing is shared between processes and no late job
is dropped: a tick that comes late simply finds more rows due.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from types import FrameType

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from scheduler.app import App
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.store.heartbeat import record_tick

log = logging.getLogger("scheduler.runner")

RECONCILE_INTERVAL_SECONDS = 60
# Ticks stop claiming before the next one is due, so one tick never makes the next one wait.
TICK_BUDGET_SHARE = 0.8


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_dispatcher(app: App, options: DispatchOptions | None = None) -> Dispatcher:
    return Dispatcher(
        app.settings,
        app.protocols,
        app.database,
        app.sender(),
        app.clock,
        worker_id(),
        options or DispatchOptions(),
    )


def add_jobs(
    scheduler: BaseScheduler,
    app: App,
    dispatcher: Dispatcher,
    *,
    reconcile_interval_seconds: float = RECONCILE_INTERVAL_SECONDS,
) -> None:
    interval = app.settings.dispatch_interval_seconds
    clinic = app.clinic("worker")

    started_at = app.clock.now()

    def dispatch() -> None:
        counts = dispatcher.drain(budget_seconds=interval * TICK_BUDGET_SHARE)
        dispatcher.deliver_events()
        record_tick(app.database, dispatcher.worker, started_at, app.clock.now(), counts.sent)
        if counts.claimed:
            log.info("dispatch: %s", counts.as_dict())
        if counts.backlog:
            # More is due than one tick could send (after an outage, say): go again at once
            # rather than idle until the next interval; max_instances=1 keeps ticks apart.
            scheduler.modify_job("dispatch", next_run_time=app.clock.now())

    def reconcile() -> None:
        counts = dispatcher.reconcile()
        if counts.sent or counts.retry or counts.expired:
            log.info("reconcile: %s", counts.as_dict())

    def plan_ahead() -> None:
        booked = clinic.extend_plans()
        if booked:
            log.info("planned %d touch-up(s)", booked)

    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    scheduler.add_job(dispatch, "interval", seconds=interval, id="dispatch", next_run_time=app.clock.now(),
                      **common)  # fmt: skip
    scheduler.add_job(reconcile, "interval", seconds=reconcile_interval_seconds, id="reconcile",
                      **common)  # fmt: skip
    scheduler.add_job(plan_ahead, "cron", hour=2, minute=15, id="plan-ahead", **common)
    scheduler.add_job(plan_ahead, "date", id="plan-ahead-at-start")


def run_worker(
    app: App,
    options: DispatchOptions | None = None,
    *,
    reconcile_interval_seconds: float = RECONCILE_INTERVAL_SECONDS,
) -> None:
    """Run until SIGTERM or SIGINT; then finish the sends in flight and exit."""
    dispatcher = make_dispatcher(app, options)
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, app, dispatcher, reconcile_interval_seconds=reconcile_interval_seconds)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing sends in flight", signal.Signals(signum).name)
        dispatcher.stop()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s started: dispatch every %ss", dispatcher.worker,
             app.settings.dispatch_interval_seconds)  # fmt: skip
    try:
        scheduler.start()
    finally:
        dispatcher.stop()
        dispatcher.close()
        log.info("worker %s stopped", dispatcher.worker)
