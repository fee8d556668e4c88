"""Prometheus metrics at /metrics, read from the database at scrape time. Holds no patient data,
so it is served without sign-in; restrict it at the proxy if the figures themselves are private."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.app import App
from scheduler.services.metrics import status
from scheduler.store.uow import UnitOfWork


class _StatusCollector(Collector):
    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        with UnitOfWork(self.app.database) as uow:
            s = status(uow.db, self.app.clock.now())
        yield GaugeMetricFamily(
            "reminders_oldest_due_age_seconds",
            "Age of the oldest text that is due and still pending (0 when none is).",
            value=s.oldest_due_age_seconds or 0.0,
        )
        yield GaugeMetricFamily("reminders_due_now", "Texts due now and still pending.", value=s.due_now)
        yield GaugeMetricFamily("reminders_pending_later", "Texts planned for later.", value=s.pending_later)
        yield GaugeMetricFamily(
            "reminders_expired_leases",
            "Texts left `sending` by a worker that stopped.",
            value=s.expired_leases,
        )
        by_status = GaugeMetricFamily("reminders_by_status", "Texts by status.", labels=["status"])
        for name, count in s.by_status.items():
            by_status.add_metric([name], count)
        yield by_status
        yield GaugeMetricFamily(
            "reminders_sent_per_minute", "Texts handed to the provider per minute, over 5 minutes.",
            value=s.sent_per_minute,
        )  # fmt: skip
        ticks = GaugeMetricFamily(
            "reminders_worker_last_tick_age_seconds",
            "Seconds since each worker's last tick.",
            labels=["worker"],
        )
        for worker in s.workers:
            ticks.add_metric([worker.worker], worker.last_tick_age_seconds)
        yield ticks


def metrics_router(app: App) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(app))
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
