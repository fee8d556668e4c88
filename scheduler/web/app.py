"""The application factory: routes, and (for `reminders serve`) a worker in the same process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from scheduler import __version__
from scheduler.app import App
from scheduler.errors import SignInRequired
from scheduler.runner import add_jobs, make_dispatcher
from scheduler.services.accounts import Accounts
from scheduler.services.delivery import DeliveryReports
from scheduler.services.replies import Replies
from scheduler.store.heartbeat import last_tick
from scheduler.store.uow import UnitOfWork
from scheduler.web.admin import admin_router
from scheduler.web.api import api_router
from scheduler.web.metrics import metrics_router
from scheduler.web.pages import HERE
from scheduler.web.security import SessionMiddleware, session_middleware_options
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

    web = FastAPI(
        title="Treatment reminders",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Enrol patients and manage their treatment course. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `reminders tokens add NAME`).",
    )
    web.state.app = app
    web.state.settings = app.settings
    web.state.accounts = Accounts(app.database, app.clock)
    web.add_middleware(SessionMiddleware, **session_middleware_options(app.settings))
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.include_router(
        twilio_router(
            app.settings,
            DeliveryReports(app.settings, app.protocols, app.database, app.clock),
            Replies(app.settings, app.protocols, app.database, app.clock),
        )
    )
    web.include_router(api_router())
    web.include_router(metrics_router(app))
    web.include_router(admin_router())

    @web.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        now = app.clock.now()
        try:
            with UnitOfWork(app.database) as uow:
                uow.db.execute(text("SELECT 1"))
                tick = last_tick(uow.db)
        except Exception:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        age = None if tick is None else round((now - tick).total_seconds(), 1)
        return JSONResponse({"status": "ok", "database": "ok", "last_tick_age_seconds": age})

    return web
