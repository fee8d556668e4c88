"""The application factory: routes, and (for `reminders serve`) a worker in the same process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import quote

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.trustedhost import TrustedHostMiddleware

from scheduler import __version__
from scheduler.app import App
from scheduler.errors import SignInRequired
from scheduler.runner import SCHEDULER_LOG, add_jobs, freeze_start_up, heartbeat, make_dispatcher
from scheduler.services.accounts import Accounts
from scheduler.services.api_tokens import ApiTokens
from scheduler.services.delivery import DeliveryReports
from scheduler.services.idempotency import IdempotencyKeys
from scheduler.services.metrics import Limits, liveness
from scheduler.services.replies import Replies
from scheduler.services.staff_sessions import StaffSessions
from scheduler.store.uow import UnitOfWork
from scheduler.web import api_problems
from scheduler.web.admin import admin_router
from scheduler.web.api import api_router
from scheduler.web.api_idempotency import Idempotency
from scheduler.web.api_ratelimit import RateLimit
from scheduler.web.guard import Guard
from scheduler.web.metrics import metrics_router
from scheduler.web.pages import HERE
from scheduler.web.protection import RequestLimits, SecurityHeaders
from scheduler.web.security import PasswordChangeRequired, SessionMiddleware, session_middleware_options
from scheduler.web.twilio_hooks import twilio_router

log = logging.getLogger("scheduler.web")


def create_app(app: App, *, run_worker: bool = False) -> FastAPI:
    """The web app over `app`; with `run_worker`, it also dispatches texts while it serves."""

    @asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        if not run_worker:
            yield
            return
        dispatcher = make_dispatcher(app)
        scheduler = BackgroundScheduler(timezone="UTC", logger=SCHEDULER_LOG)
        add_jobs(scheduler, app, dispatcher)
        freeze_start_up()  # again: the SMS client came after `reminders serve` froze the rest
        with heartbeat(app, dispatcher):
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
    web.state.api_tokens = ApiTokens(app.database, app.clock)
    web.state.staff_sessions = StaffSessions(
        app.database,
        app.clock,
        idle=timedelta(minutes=app.settings.session_idle_minutes),
        lifetime=timedelta(hours=app.settings.session_max_hours),
    )
    web.state.idempotency = IdempotencyKeys(app.database, app.clock)
    web.add_middleware(SessionMiddleware, **session_middleware_options(app.settings))
    web.add_middleware(Idempotency)  # inside the body limits: it reads whole bodies
    web.add_middleware(RequestLimits)
    web.add_middleware(RateLimit)  # before a body is read
    if app.settings.allowed_hosts:
        web.add_middleware(TrustedHostMiddleware, allowed_hosts=list(app.settings.allowed_hosts))
    # It sees every error before anything could log its text, and answers with a request id.
    web.add_middleware(Guard)
    web.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals and errors included
    api_problems.install(web)  # errors on /api/ as problem documents; the admin's as before
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
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = "/password" if isinstance(exc, PasswordChangeRequired) else "/login"
        return RedirectResponse(f"{page}?next={quote(target)}", status_code=303)

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """The whole service: the database answers and some worker is dispatching. 503 otherwise,
        saying which."""
        return _health(app, workers=True)

    @web.get("/healthz/web", include_in_schema=False)
    def healthz_web() -> JSONResponse:
        """This web process and its database only: for a load balancer, which should keep
        answering webhooks while the workers are down."""
        return _health(app, workers=False)

    return web


PRINTING = "SMS_BACKEND=console: texts are printed, not sent"


def _health(app: App, *, workers: bool) -> JSONResponse:
    settings = app.settings
    try:
        with UnitOfWork(app.database) as uow:
            uow.db.execute(text("SELECT 1"))
            alive = liveness(uow.db, app.clock.now(), Limits.of(settings)) if workers else None
    except Exception as exc:
        log.warning("health check: the database could not be read (%s)", type(exc).__name__)
        return JSONResponse(
            {"status": "error", "database": "unreachable", "problem": "the database does not answer"},
            status_code=503,
        )
    warned = {"warnings": [PRINTING]} if settings.printing_in_production else {}
    if alive is None:
        return JSONResponse({"status": "ok", "database": "ok", **warned})
    body: dict[str, object] = {
        "status": "ok",
        "database": "ok",
        "workers_alive": len(alive.workers),
        "workers_ticking": alive.workers_ticking,
        "last_tick_age_seconds": alive.last_tick_age_seconds,
    }
    body.update(warned)
    if alive.workers_ticking:
        return JSONResponse(body)
    limit = settings.tick_overdue_after.total_seconds()
    body["status"] = "error"
    body["problem"] = (
        f"no worker has finished a dispatch tick in the last {limit:g} s: texts are not being sent"
        if alive.workers
        else "no worker is running: texts are not being sent"
    )
    return JSONResponse(body, status_code=503)
