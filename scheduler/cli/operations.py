"""Commands that run the service: migrations, dispatching, the worker, the web app, status."""

from __future__ import annotations

import json
import logging
import signal

import click

from scheduler.cli.base import cli, configure_logging, json_option, opened
from scheduler.errors import ConfigError

log = logging.getLogger("scheduler.serve")


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (safe to run again).

    Prints the schema revision before and after: the first is the one to take the schema back to
    with `db downgrade` should this version have to be rolled back.
    """
    from scheduler.settings_file import load_settings
    from scheduler.store.db import upgrade

    before, after = upgrade(load_settings().database_url)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from revision {before or 'none (empty)'} to {after}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION, to roll back to an older version (run it before
    reinstalling that version: only the newer one knows how). REVISION is what `db upgrade`
    printed before it upgraded; the older version names it too when it refuses the schema."""
    from scheduler.settings_file import load_settings
    from scheduler.store.db import downgrade

    before, after = downgrade(load_settings().database_url, revision)
    click.echo(f"database taken back from revision {before} to {after}")


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Send what is due now, then exit.")
@json_option
def dispatch(once: bool, as_json: bool) -> None:
    """Send every text that is due now, then exit (for cron, operators and tests).

    Prints what happened: claimed, sent, retry, failed, expired, skipped, deferred (outside the
    send window), unknown (outcome to be reconciled) and returned (handed back unsent, to be
    claimed again).
    """
    from scheduler.runner import heartbeat, make_dispatcher

    configure_logging()
    with opened() as app:
        dispatcher = make_dispatcher(app)
        # A worker for as long as it runs: were it killed, its claims would be taken over as soon
        # as its heartbeat is missed.
        with heartbeat(app, dispatcher):
            try:
                counts = dispatcher.reconcile()
                counts.merge(dispatcher.drain())
                dispatcher.deliver_events()
            finally:
                dispatcher.close()
    result = counts.as_dict()
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(", ".join(f"{k} {v}" for k, v in result.items()))


@cli.command()
@click.option("--demo", "with_demo", is_flag=True, help="Enrol a demo patient first if there are none.")
def worker(with_demo: bool) -> None:
    """Run a worker: dispatch due texts every DISPATCH_INTERVAL_SECONDS, settle unknown sends,
    book next touch-ups and fold the reports' tallies. Stops cleanly on SIGTERM or Ctrl-C."""
    from scheduler.demo import ensure_demo
    from scheduler.runner import run_worker

    configure_logging()
    with opened() as app:
        click.echo(
            f"worker: {app.settings.effective_sms_backend} SMS backend, "
            f"database {app.engine.url.render_as_string(hide_password=True)}"
        )
        if app.settings.printing_in_production:
            log.warning("SMS_BACKEND=console on a public service: texts are printed, not sent")
        if with_demo:
            detail = ensure_demo(app)
            click.echo(f"demo patient {detail.patient.id} ({detail.patient.timezone})")
        run_worker(app)


@cli.command("status")
@json_option
def status_(as_json: bool) -> None:
    """How sending is doing: oldest due text, stuck claims, unknown/failed/expired, workers."""
    from scheduler.serialize import dumps
    from scheduler.services.metrics import Limits, status
    from scheduler.store.uow import UnitOfWork

    with opened() as app, UnitOfWork(app.database) as uow:
        result = status(uow.db, app.clock.now(), Limits.of(app.settings))
    if as_json:
        click.echo(dumps(result))
        return
    oldest = result.oldest_due_age_seconds
    click.echo(f"due now: {result.due_now}" + (f" (oldest {oldest:.0f} s overdue)" if oldest else ""))
    click.echo(f"planned for later: {result.pending_later}")
    click.echo(f"claims with an expired lease: {result.expired_leases}")
    click.echo(f"claims held by workers that are gone: {result.claims_held_by_gone_workers}")
    click.echo("by status: " + ", ".join(f"{k} {v}" for k, v in result.by_status.items()))
    click.echo(f"sent per minute (last 5 min): {result.sent_per_minute:.1f}")
    for w in result.workers:
        tick = (
            "no tick yet"
            if w.last_tick_age_seconds is None
            else f"last tick {w.last_tick_age_seconds:.0f} s ago"
        )
        click.echo(f"worker {w.worker}: alive {w.alive_age_seconds:.0f} s ago, {tick}, {w.sent_total} sent")
    if not result.workers:
        click.echo("no worker is running")
    elif not result.workers_ticking:
        click.echo("no worker has finished a dispatch tick lately: texts are not being sent")
    if result.workers_gone:
        click.echo(f"workers gone (silent past WORKER_STALE_SECONDS): {result.workers_gone}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--demo", "with_demo", is_flag=True, help="Enrol a demo patient first if there are none.")
@click.option("--no-worker", is_flag=True, help="Serve only; texts are sent by separate workers.")
def serve(host: str, port: int, with_demo: bool, no_worker: bool) -> None:
    """Run the web app (admin pages, JSON API, Twilio webhooks, health check) with a worker in
    the same process. On a database with no staff accounts, it creates an admin first and prints
    its one-time password.

    Stops cleanly on SIGTERM or Ctrl-C, finishing the sends in flight.
    """
    import uvicorn

    from scheduler.demo import ensure_demo
    from scheduler.runner import freeze_start_up
    from scheduler.services.accounts import Accounts
    from scheduler.web import create_app

    configure_logging()
    with opened() as app:
        if not app.settings.secret_key and not with_demo:
            raise ConfigError(
                "SECRET_KEY is not set; sign-ins need it to survive a restart and to be shared by "
                "several web processes. Generate one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))', or run with --demo to try "
                "the service"
            )
        if app.settings.printing_in_production:
            log.warning("SMS_BACKEND=console on a public service: texts are printed, not sent")
        if with_demo:
            detail = ensure_demo(app)
            click.echo(f"demo patient {detail.patient.id} ({detail.patient.timezone})")
        first = Accounts(app.database, app.clock).ensure_first_admin()
        if first is not None:
            click.echo(
                f"created the first admin account {first[0]}; its one-time password (to be replaced at "
                f"first sign-in): {first[1]}"
            )
        web = create_app(app, run_worker=not no_worker)
        # log_config=None: uvicorn's lines go through the service's own log handler, which keeps
        # patient data out of tracebacks, rather than through handlers of uvicorn's own.
        config = uvicorn.Config(
            web, host=host, port=port, log_level="info", access_log=False, log_config=None
        )
        server = uvicorn.Server(config)
        click.echo(
            f"serving on http://{host}:{port}/ ({app.settings.effective_sms_backend} SMS backend"
            f"{'' if no_worker else ', worker included'}); Twilio webhooks: /twilio/status, "
            "/twilio/inbound"
        )
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the
        # handler that was installed before it; that handler lets the command exit with 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        freeze_start_up()
        server.run()
        click.echo("stopped")
