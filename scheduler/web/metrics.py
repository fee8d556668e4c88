"""Prometheus metrics at /metrics, read from the database at scrape time. Holds no patient data,
so it is served without sign-in; restrict it at the proxy if the figures themselves are private.

With the database out of reach it still answers, with `reminders_database_up 0` and nothing
else, so that an alert on that gauge can fire.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.app import App
from scheduler.services.metrics import Limits, Status, status
from scheduler.store.uow import UnitOfWork

log = logging.getLogger("scheduler.web")


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _StatusCollector(Collector):
    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        try:
            with UnitOfWork(self.app.database) as uow:
                s = status(uow.db, self.app.clock.now(), Limits.of(self.app.settings))
        except Exception as exc:
            # Only the type: a database error's text can quote values.
            log.warning("metrics: the database could not be read (%s)", type(exc).__name__)
            yield _gauge("reminders_database_up", "1 when the database answered this scrape, else 0.", 0)
            return
        yield _gauge("reminders_database_up", "1 when the database answered this scrape, else 0.", 1)
        yield from _figures(s)


def _figures(s: Status) -> Iterator[Metric]:
    yield _gauge(
        "reminders_oldest_due_age_seconds",
        "Age of the oldest text that is due and still pending (0 when none is).",
        s.oldest_due_age_seconds or 0.0,
    )
    yield _gauge("reminders_due_now", "Texts due now and still pending.", s.due_now)
    yield _gauge("reminders_pending_later", "Texts planned for later.", s.pending_later)
    yield _gauge(
        "reminders_expired_leases", "Texts left `sending` past their claim's lease.", s.expired_leases
    )
    yield _gauge(
        "reminders_claims_held_by_gone_workers",
        "Texts left `sending` by a worker whose heartbeat stopped; another worker takes them over.",
        s.claims_held_by_gone_workers,
    )
    by_status = GaugeMetricFamily("reminders_by_status", "Texts by status.", labels=["status"])
    for name, count in s.by_status.items():
        by_status.add_metric([name], count)
    yield by_status
    yield _gauge(
        "reminders_sent_per_minute",
        "Texts handed to the provider per minute, over 5 minutes.",
        s.sent_per_minute,
    )
    yield _gauge("reminders_workers_alive", "Workers whose heartbeat is recent.", len(s.workers))
    yield _gauge(
        "reminders_workers_ticking", "Live workers whose last dispatch tick is recent.", s.workers_ticking
    )
    yield _gauge(
        "reminders_workers_gone",
        "Workers silent past WORKER_STALE_SECONDS, not yet forgotten.",
        s.workers_gone,
    )
    alive = GaugeMetricFamily(
        "reminders_worker_alive_age_seconds", "Seconds since each live worker's heartbeat.", labels=["worker"]
    )
    ticks = GaugeMetricFamily(
        "reminders_worker_last_tick_age_seconds",
        "Seconds since each live worker's last dispatch tick ended.",
        labels=["worker"],
    )
    for worker in s.workers:
        alive.add_metric([worker.worker], worker.alive_age_seconds)
        if worker.last_tick_age_seconds is not None:
            ticks.add_metric([worker.worker], worker.last_tick_age_seconds)
    yield alive
    yield ticks


def metrics_router(app: App) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(app))
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
