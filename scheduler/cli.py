"""The `reminders` command: arguments in, one service call, output and an exit code out.

Exit codes: 0 success, 2 bad input (one `error: ...` line on stderr, nothing written), 1 other
failures.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from scheduler.app import App, build, load_settings
from scheduler.demo import demo_request
from scheduler.domain.protocols import DEFAULT_PROTOCOL
from scheduler.domain.timeutil import zone
from scheduler.errors import ConfigError, InvalidInput, ReminderError, SchemaOutOfDate
from scheduler.runner import make_dispatcher, run_worker
from scheduler.services import Clinic, EnrolRequest, ImportReport
from scheduler.services.accounts import Accounts
from scheduler.store.db import upgrade

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def opened(*, check_schema: bool = True) -> Iterator[App]:
    app = build(load_settings(), check=check_schema)
    try:
        yield app
    finally:
        app.close()


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run(action: Callable[[Clinic], Any], as_json: bool, show: Callable[[Any], None]) -> None:
    with opened() as app:
        result = action(app.clinic(actor()))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        show(result)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Plan treatment courses and text patients their reminders.

    Reads its settings from the environment and from a .env file (see .env.example).
    """


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (safe to run again)."""
    settings = load_settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@cli.command()
@json_option
def protocols(as_json: bool) -> None:
    """List the treatment protocols: built-in ones and those in PROTOCOLS_FILE."""
    from scheduler.domain.protocols import load_protocols

    found = load_protocols(load_settings().protocols_file)
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "name": p.name,
            "family": p.family,
            "days": list(p.induction_days),
            "touch_up_days": p.touch_up_days,
            "touch_up_min_days": p.touch_up_min_days if p.touch_up_days else None,
            "touch_up_max_days": p.touch_up_max_days if p.touch_up_days else None,
        }
        for p in found.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        days = ", ".join(str(d) for d in row["days"])
        after = (
            f"touch-ups every {row['touch_up_days']} days "
            f"({row['touch_up_min_days']}-{row['touch_up_max_days']})"
            if row["touch_up_days"]
            else "then staff review"
        )
        default = " (default)" if row["id"] == DEFAULT_PROTOCOL else ""
        click.echo(f"{row['id']}{default}: {row['name']}\n    days {days}; {after}")


@cli.command()
@click.option("--name", required=True, help="Patient's name as it should appear to staff.")
@click.option("--phone", required=True, help="Mobile number; national numbers use DEFAULT_PHONE_REGION.")
@click.option("--timezone", "tz", required=True, help="IANA time zone, e.g. America/Chicago.")
@click.option("--protocol", default=DEFAULT_PROTOCOL, show_default=True, help="Protocol id.")
@click.option("--first", required=True, help='First session, local time: "YYYY-MM-DD HH:MM".')
@click.option("--consent", required=True, help="How the patient agreed to texts (e.g. intake-form).")
@click.option("--interval", type=int, help="Touch-up interval in days (default: the protocol's).")
@json_option
def enrol(
    name: str,
    phone: str,
    tz: str,
    protocol: str,
    first: str,
    consent: str,
    interval: int | None,
    as_json: bool,
) -> None:
    """Enrol a patient and plan their whole course."""
    request = EnrolRequest(name, phone, tz, protocol, first, consent, interval)
    run(lambda c: c.enrol(request), as_json, print_detail)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@json_option
def import_(file: Path, dry_run: bool, as_json: bool) -> None:
    """Enrol patients from a CSV file with columns name,phone,timezone,protocol,first,consent.

    Every row is checked first; if any row is bad, nothing is written and each bad row is
    reported by its line number.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    with opened() as app:
        report = app.clinic(actor()).import_csv(text, dry_run=dry_run)
    print_import(report, dry_run, as_json)
    if not report.ok:
        sys.exit(2)


@cli.command()
@click.option("--status", help="active, paused, discharged, opted-out or attention.")
@json_option
def patients(status: str | None, as_json: bool) -> None:
    """List patients."""
    run(lambda c: c.patients(status), as_json, print_patients)


@cli.command()
@click.argument("patient_id", type=int)
@json_option
def show(patient_id: int, as_json: bool) -> None:
    """Show a patient's course: sessions, planned texts and messages."""
    run(lambda c: c.show(patient_id), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@click.argument("when")
@json_option
def reschedule(appointment_id: int, when: str, as_json: bool) -> None:
    """Move a session to WHEN ("YYYY-MM-DD HH:MM", the patient's local time)."""
    run(lambda c: c.reschedule(appointment_id, when), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@json_option
def cancel(appointment_id: int, as_json: bool) -> None:
    """Cancel a session and its texts."""
    run(lambda c: c.cancel(appointment_id), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@click.argument("result", type=click.Choice(["attended", "missed"]))
@json_option
def outcome(appointment_id: int, result: str, as_json: bool) -> None:
    """Record whether the patient came to a session."""
    run(lambda c: c.outcome(appointment_id, result), as_json, print_detail)


def _patient_command(name: str, help_text: str) -> None:
    @cli.command(name, help=help_text)
    @click.argument("patient_id", type=int)
    @json_option
    def command(patient_id: int, as_json: bool) -> None:
        run(lambda c: getattr(c, name)(patient_id), as_json, print_detail)


_patient_command("pause", "Stop texting a patient for now; their sessions stay booked.")
_patient_command("resume", "Text a paused patient again (also lifts a hold after a missed session).")
_patient_command("discharge", "End a patient's care: cancel future sessions and texts.")


@cli.command()
@click.argument("patient_id", type=int)
@click.argument("days", type=int)
@json_option
def interval(patient_id: int, days: int, as_json: bool) -> None:
    """Set the touch-up interval in DAYS; the upcoming touch-up moves to match."""
    run(lambda c: c.set_interval(patient_id, days), as_json, print_detail)


@cli.command()
@click.argument("patient_id", type=int)
@click.argument("number")
@json_option
def phone(patient_id: int, number: str, as_json: bool) -> None:
    """Change a patient's mobile number; a number flagged invalid is cleared and texts resume."""
    run(lambda c: c.change_phone(patient_id, number), as_json, print_detail)


@cli.command()
@json_option
def demo(as_json: bool) -> None:
    """Enrol a demo patient if the database has no patients, and show their plan."""
    with opened() as app:
        detail = ensure_demo(app)
    if as_json:
        click.echo(json.dumps(detail, indent=2, ensure_ascii=False))
    else:
        print_detail(detail)


def ensure_demo(app: App) -> dict[str, Any]:
    clinic = app.clinic("demo")
    existing = clinic.patients()
    if existing:
        return clinic.show(existing[0]["id"])
    return clinic.enrol(demo_request(app.settings, app.clock.now()))


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Send what is due now, then exit.")
@json_option
def dispatch(once: bool, as_json: bool) -> None:
    """Send every text that is due now, then exit (for cron, operators and tests).

    Prints what happened: claimed, sent, retry, failed, expired, skipped, deferred (outside the
    send window) and unknown (outcome to be reconciled).
    """
    configure_logging()
    with opened() as app:
        dispatcher = make_dispatcher(app)
        try:
            counts = dispatcher.reconcile()
            counts.merge(dispatcher.drain())
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
    """Run a worker: dispatch due texts every DISPATCH_INTERVAL_SECONDS, settle unknown sends and
    book next touch-ups. Stops cleanly on SIGTERM or Ctrl-C."""
    configure_logging()
    with opened() as app:
        click.echo(
            f"worker: {app.settings.effective_sms_backend} SMS backend, "
            f"database {app.engine.url.render_as_string(hide_password=True)}"
        )
        if with_demo:
            detail = ensure_demo(app)
            click.echo(f"demo patient {detail['patient']['id']} ({detail['patient']['timezone']})")
        run_worker(app)


@cli.command("status")
@json_option
def status_(as_json: bool) -> None:
    """How sending is doing: oldest due text, stuck claims, unknown/failed/expired, workers."""
    from scheduler.services.metrics import status
    from scheduler.store.uow import UnitOfWork

    with opened() as app, UnitOfWork(app.sessions) as uow:
        result = status(uow.session, app.clock.now())
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    oldest = result.oldest_due_age_seconds
    click.echo(f"due now: {result.due_now}" + (f" (oldest {oldest:.0f} s overdue)" if oldest else ""))
    click.echo(f"planned for later: {result.pending_later}")
    click.echo(f"claims with an expired lease: {result.expired_leases}")
    click.echo("by status: " + ", ".join(f"{k} {v}" for k, v in result.by_status.items()))
    click.echo(f"sent per minute (last 5 min): {result.sent_per_minute:.1f}")
    for w in result.workers:
        click.echo(f"worker {w.worker}: last tick {w.last_tick_age_seconds:.0f} s ago, {w.sent_total} sent")
    if not result.workers:
        click.echo("no worker has run yet")


@cli.group()
def users() -> None:
    """Manage staff accounts for the admin web app."""


@users.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.option("--prompt", "ask", is_flag=True, help="Type the password instead of generating one.")
def users_add(email: str, admin: bool, ask: bool) -> None:
    """Create a staff account; prints a generated password once (or asks for one with --prompt)."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if ask else None
    with opened() as app:
        user, chosen = Accounts(app.sessions, app.clock).add_user(email, password, admin=admin)
    click.echo(f"created {user.email}")
    if not ask:
        click.echo(f"password (shown once): {chosen}")


@cli.group()
def tokens() -> None:
    """Manage bearer tokens for the JSON API."""


@tokens.command("add")
@click.argument("name")
def tokens_add(name: str) -> None:
    """Create an API token called NAME and print it once; only its hash is kept."""
    with opened() as app:
        token = Accounts(app.sessions, app.clock).add_token(name)
    click.echo(f"token for {name.strip()} (shown once): {token}")


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

    from scheduler.web import create_app

    configure_logging()
    with opened() as app:
        if with_demo:
            detail = ensure_demo(app)
            click.echo(f"demo patient {detail['patient']['id']} ({detail['patient']['timezone']})")
        first = Accounts(app.sessions, app.clock).ensure_first_admin()
        if first is not None:
            click.echo(f"created the first admin account: {first[0]}, password (shown once): {first[1]}")
        web = create_app(app, run_worker=not no_worker)
        config = uvicorn.Config(web, host=host, port=port, log_level="info", access_log=False)
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
        server.run()
        click.echo("stopped")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # APScheduler reports every run at INFO; ours say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


# -- output -------------------------------------------------------------------------------------


def _local(iso: str | None, tz_name: str) -> str:
    if iso is None:
        return "-"
    return datetime.fromisoformat(iso).astimezone(zone(tz_name)).strftime("%a %Y-%m-%d %H:%M")


def print_detail(detail: dict[str, Any]) -> None:
    p = detail["patient"]
    tz = p["timezone"]
    flags = [f for f in ("opted-out" if p["opted_out"] else "", p["attention"] or "") if f]
    click.echo(
        f"Patient {p['id']}: {p['name']}  {p['phone']}  {tz}  {p['protocol']}  {p['status']}"
        + (f"  [{', '.join(flags)}]" if flags else "")
    )
    if p["touch_up_interval_days"]:
        click.echo(f"Touch-ups every {p['touch_up_interval_days']} days")
    click.echo("\nSessions (patient's local time):")
    for a in detail["appointments"]:
        click.echo(
            f"  #{a['id']:<5} {a['kind']:<9} {a['number']:>2}  {_local(a['starts_at'], tz)}  {a['status']}"
        )
    click.echo("\nTexts:")
    for r in detail["reminders"]:
        session = f"session #{r['appointment_id']}" if r["appointment_id"] else ""
        reason = f" ({r['reason']})" if r["reason"] else ""
        click.echo(f"  {_local(r['due_at'], tz)}  {r['kind']:<9} {r['status']}{reason}  {session}".rstrip())
    messages = detail.get("messages")
    if messages:
        click.echo("\nMessages:")
        for m in messages:
            code = f" error {m['error_code']}" if m["error_code"] else ""
            click.echo(f"  {_local(m['created_at'], tz)}  {m['status']}{code}  {m['body']}")


def print_patients(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no patients")
    for p in rows:
        note = f"  [{p['attention']}]" if p["attention"] else ""
        optout = "  [opted-out]" if p["opted_out"] else ""
        click.echo(
            f"{p['id']:>5}  {p['name']:<30}  {p['phone']:<16} {p['protocol']:<14} {p['status']}{optout}{note}"
        )


def print_import(report: ImportReport, dry_run: bool, as_json: bool) -> None:
    if as_json:
        payload = {
            "rows": report.rows,
            "ok": report.ok,
            "dry_run": dry_run,
            "errors": [{"line": e.line, "error": e.message} for e in report.errors],
            "patient_ids": report.patient_ids,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for e in report.errors:
        click.echo(f"line {e.line}: {e.message}", err=True)
    if not report.ok:
        click.echo(f"error: {len(report.errors)} bad row(s); nothing imported", err=True)
    elif dry_run:
        click.echo(f"{report.rows} row(s) are valid; nothing written (dry run)")
    else:
        click.echo(f"imported {len(report.patient_ids)} patient(s)")


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the command and maps errors onto the documented exit codes."""
    try:
        cli.main(args=argv, prog_name="reminders", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        fail(exc.format_message().replace("\n", " "), 2)
    except (InvalidInput, ConfigError) as exc:
        fail(str(exc), 2)
    except SchemaOutOfDate as exc:
        fail(str(exc), 1)
    except ReminderError as exc:
        fail(str(exc), 1)
    except Exception as exc:
        if os.environ.get("REMINDERS_DEBUG"):
            raise
        # The message of an unexpected error may quote data; name only its type.
        fail(f"unexpected {type(exc).__name__}; run with REMINDERS_DEBUG=1 for the traceback", 1)
    sys.exit(0)
