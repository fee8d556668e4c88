"""APScheduler wiring only: the clock that makes a worker dispatch, reconcile, plan ahead and fold
the reports' tallies.

The database is the queue. Each worker keeps its jobs in APScheduler's in-memory store and adds
them again at start, so nothing is pickled, nothing is shared between processes and no late job
is dropped: a tick that comes late simply finds more rows due. Beside the jobs, a heartbeat thread
says the worker is alive (`dispatch.liveness`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from scheduler.app import App
from scheduler.config import Settings
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.dispatch.liveness import Heartbeat
from scheduler.store import tallies
from scheduler.store.heartbeat import record_tick, sweep

log = logging.getLogger("scheduler.runner")

# Ticks stop claiming before the next one is due, so one tick never makes the next one wait.
TICK_BUDGET_SHARE = 0.8
# The reconciler looks for unknown sends at least this often.
RECONCILE_EVERY_AT_MOST_SECONDS = 60.0
# The reports' session tallies are folded this often (`store.tallies`).
FOLD_EVERY_SECONDS = 60.0
# A slow tick is reported at most this often.
OVERRUN_REPORT_SECONDS = 600.0


class _SkippedOverlaps(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached": a tick that
    outlasts the interval is expected under a slow provider (the runner reports it itself, once in
    a while), and would otherwise log a warning every interval."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


# The logger the runner's schedulers log to: APScheduler's own, less the overlap warnings.
SCHEDULER_LOG = logging.getLogger("scheduler.runner.apscheduler")
SCHEDULER_LOG.addFilter(_SkippedOverlaps())
# APScheduler reports every job it adds and runs at INFO; the runner's own lines say what matters.
SCHEDULER_LOG.setLevel(logging.WARNING)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def reconcile_every(settings: Settings) -> float:
    """How often the reconciler runs: often enough that an unknown send is looked up soon after
    RECONCILE_AFTER_SECONDS, and at least every minute."""
    return max(0.5, min(RECONCILE_EVERY_AT_MOST_SECONDS, settings.reconcile_after_seconds / 2))


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


@contextmanager
def heartbeat(app: App, dispatcher: Dispatcher) -> Iterator[Heartbeat]:
    """The worker's heartbeat while the block runs; the dispatcher holds back its sends whenever the
    heartbeat could not be recorded for a while. Close the dispatcher inside the block: the worker
    leaves the table once its claims are released."""
    settings = app.settings
    beating = Heartbeat(
        app.database, app.clock, dispatcher.worker, settings.heartbeat_interval, settings.worker_stale_after
    )
    beating.start()
    dispatcher.ctx.fresh = beating.fresh
    try:
        yield beating
    finally:
        beating.stop()


class _Overruns:
    """Ticks that outlast the dispatch interval: counted, and reported once in a while."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.skipped = 0
        self._reported = float("-inf")

    def skip(self, _event: JobEvent) -> None:
        self.skipped += 1

    def tick_took(self, seconds: float, dispatcher: Dispatcher) -> None:
        now = time.monotonic()
        if seconds <= self.interval or now - self._reported < OVERRUN_REPORT_SECONDS:
            return
        latency = dispatcher.ctx.latency.seconds
        log.warning(
            "dispatch ticks outlast DISPATCH_INTERVAL_SECONDS=%g (the last took %.0f s; the provider "
            "answers in %s on average; %d ticks skipped so far): each tick claims only what it can "
            "send, and the next one follows at once",
            self.interval,
            seconds,
            "?" if latency is None else f"{latency:.1f} s",
            self.skipped,
        )
        self._reported = now


def add_jobs(scheduler: BaseScheduler, app: App, dispatcher: Dispatcher) -> None:
    settings = app.settings
    interval = settings.dispatch_interval_seconds
    clinic = app.clinic("worker")
    overruns = _Overruns(interval)
    started_at = app.clock.now()
    backlog = False

    def dispatch() -> None:
        nonlocal backlog
        began = time.monotonic()
        counts = dispatcher.drain(budget_seconds=interval * TICK_BUDGET_SHARE)
        dispatcher.deliver_events()
        record_tick(app.database, dispatcher.worker, started_at, app.clock.now(), counts.sent)
        if counts.claimed:
            log.info("dispatch: %s", counts.as_dict())
        backlog = counts.backlog
        overruns.tick_took(time.monotonic() - began, dispatcher)

    def after_tick(event: JobEvent) -> None:
        # More is due than one tick could send (after an outage, or behind a slow provider): go
        # again at once rather than idle until the next interval. Asked from inside the tick, the
        # run would meet the tick itself still running and be skipped; by now it has ended.
        if event.job_id != "dispatch" or not backlog or dispatcher.ctx.stopping.is_set():
            return
        with contextlib.suppress(JobLookupError):  # the scheduler is shutting down
            scheduler.modify_job("dispatch", next_run_time=app.clock.now())

    def reconcile() -> None:
        counts = dispatcher.reconcile()
        if counts.sent or counts.retry or counts.expired:
            log.info("reconcile: %s", counts.as_dict())
        # A worker silent past both its staleness limit and its lease holds nothing that another
        # worker has not been free to take: forget it.
        forgotten = sweep(
            app.database, app.clock.now() - max(settings.claim_lease, settings.worker_stale_after)
        )
        if forgotten:
            log.info("forgot %d worker(s) silent for longer than their lease", forgotten)

    def fold_tallies() -> None:
        tallies.fold(app.engine)

    def plan_ahead() -> None:
        booked = clinic.extend_plans()
        if booked:
            log.info("planned %d touch-up(s)", booked)

    scheduler.add_listener(after_tick, EVENT_JOB_EXECUTED)
    scheduler.add_listener(overruns.skip, EVENT_JOB_MAX_INSTANCES)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    scheduler.add_job(dispatch, "interval", seconds=interval, id="dispatch", next_run_time=app.clock.now(),
                      **common)  # fmt: skip
    scheduler.add_job(reconcile, "interval", seconds=reconcile_every(settings), id="reconcile", **common)
    scheduler.add_job(fold_tallies, "interval", seconds=FOLD_EVERY_SECONDS, id="fold-tallies", **common)
    scheduler.add_job(plan_ahead, "cron", hour=2, minute=15, id="plan-ahead", **common)
    scheduler.add_job(plan_ahead, "date", id="plan-ahead-at-start")


def freeze_start_up() -> None:
    """Leave what start-up made (the modules, the app, its settings and the SMS client: over
    100,000 objects) out of every later garbage collection. It lives as long as the process, and
    a full collection that walked it took 35-90 ms: in the web process, a page held up about once
    every twenty requests; in a worker, about a seventh of the dispatch thread's time while it
    sends."""
    gc.collect()
    gc.freeze()


def run_worker(app: App, options: DispatchOptions | None = None) -> None:
    """Run until SIGTERM or SIGINT; then finish the sends in flight and exit."""
    dispatcher = make_dispatcher(app, options)
    scheduler = BlockingScheduler(timezone="UTC", logger=SCHEDULER_LOG)
    add_jobs(scheduler, app, dispatcher)
    freeze_start_up()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing sends in flight", signal.Signals(signum).name)
        dispatcher.stop()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with heartbeat(app, dispatcher):
        log.info("worker %s started: dispatch every %ss", dispatcher.worker,
                 app.settings.dispatch_interval_seconds)  # fmt: skip
        try:
            scheduler.start()
        finally:
            dispatcher.stop()
            dispatcher.close()
            log.info("worker %s stopped", dispatcher.worker)
