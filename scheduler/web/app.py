"""The application factory: routes, and (for `reminders serve`) a worker in the same process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from scheduler import __version__
from scheduler.app import App
from scheduler.runner import add_jobs, make_dispatcher
from scheduler.services.twoway import TwoWay
from scheduler.store.heartbeat import last_tick
from scheduler.store.uow import UnitOfWork
from scheduler.web.twilio_hooks import twilio_router


def create_app(app: App, *, run_worker: bool = False) -> FastAPI:
    """The web app over `app`; with `run_worker`, it also dispatches texts while it serves."""

    @asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        if not run_worker:
            yield
            return
        dispatcher = make_dispatcher(app)
        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(scheduler, app, dispatcher)
        scheduler.start()
        try:
            yield
        finally:
            dispatcher.stop()
            scheduler.shutdown(wait=True)
            dispatcher.close()

    web = FastAPI(title="Treatment reminders", version=__version__, lifespan=lifespan)
    web.include_router(twilio_router(TwoWay(app.settings, app.sessions, app.clock)))

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        now = app.clock.now()
        try:
            with UnitOfWork(app.sessions) as uow:
                uow.session.execute(text("SELECT 1"))
                tick = last_tick(uow.session)
        except Exception:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        age = None if tick is None else round((now - tick).total_seconds(), 1)
        return JSONResponse({"status": "ok", "database": "ok", "last_tick_age_seconds": age})

    return web
