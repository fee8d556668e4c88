"""Commands that enrol patients and change or show their course."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from scheduler.cli.base import actor, cli, fail, json_option, opened, run
from scheduler.domain.protocols import DEFAULT_PROTOCOL


@cli.command()
@json_option
def protocols(as_json: bool) -> None:
    """List the treatment protocols: built-in ones and those in PROTOCOLS_FILE."""
    from scheduler.domain.protocols import load_protocols
    from scheduler.settings_file import load_settings

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
@click.option("--language", default="en", show_default=True, help="The patient's texts: en or es.")
@click.option("--external-id", default="", help="The clinic's record number (from its EHR), if any.")
@json_option
def enrol(
    name: str,
    phone: str,
    tz: str,
    protocol: str,
    first: str,
    consent: str,
    interval: int | None,
    language: str,
    external_id: str,
    as_json: bool,
) -> None:
    """Enrol a patient and plan their whole course."""
    from scheduler.cli.output import print_detail
    from scheduler.services import EnrolRequest

    request = EnrolRequest(name, phone, tz, protocol, first, consent, interval, language, external_id)
    run(lambda c: c.enrol(request), as_json, print_detail)


@contextmanager
def _few_collections() -> Iterator[None]:
    """An import of thousands of rows keeps millions of objects alive until it ends; with the
    cycle collector's usual thresholds it scans them again and again (a second or more of a
    10,000-patient import). Meanwhile what the process had loaded is set aside, and the
    collector runs rarely."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@json_option
def import_(file: Path, dry_run: bool, as_json: bool) -> None:
    """Enrol patients from a CSV file with columns name,phone,timezone,protocol,first,consent
    (and optionally language, en or es, and external_id, the clinic's record number). Commas,
    semicolons or tabs; UTF-8, as a spreadsheet's "CSV UTF-8" saves it. A blank protocol is the
    default one.

    Every row is checked first; if any row is bad, nothing is written and each bad row is
    reported by its line number.
    """
    from scheduler.cli.output import import_json, print_import
    from scheduler.services.csv_file import decode

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or type(exc).__name__}")
    text = decode(data)  # InvalidInput: exit 2 with what to do
    with _few_collections(), opened() as app:
        report = app.clinic(actor()).import_csv(text, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(import_json(report, dry_run), indent=2))
    else:
        print_import(report, dry_run)
    if not report.ok:
        sys.exit(2)


@cli.command()
@click.option("--status", help="active, paused, discharged, opted-out or attention.")
@click.option("--search", default="", help="A name, a record number, or a phone number typed any way.")
@click.option("--limit", type=int, help="At most this many patients (1-500).")
@click.option("--offset", type=int, default=0, show_default=True, help="Skip this many first.")
@json_option
def patients(status: str | None, search: str, limit: int | None, offset: int, as_json: bool) -> None:
    """List patients by id, with a header row (JSON: a list of patients)."""
    from scheduler.cli.output import print_patients
    from scheduler.services.records import MAX_PAGE, Paging

    paged = limit is not None or offset != 0
    paging = Paging(MAX_PAGE if limit is None else limit, offset) if paged else None
    run(lambda c: c.patients(status, search, paging), as_json, print_patients)


@cli.command()
@click.argument("patient_id", type=int)
@json_option
def show(patient_id: int, as_json: bool) -> None:
    """Show a patient's course: sessions, planned texts and messages."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.show(patient_id), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@click.argument("when")
@json_option
def reschedule(appointment_id: int, when: str, as_json: bool) -> None:
    """Move a session to WHEN ("YYYY-MM-DD HH:MM", the patient's local time)."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.reschedule(appointment_id, when), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@json_option
def cancel(appointment_id: int, as_json: bool) -> None:
    """Cancel a session and its texts."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.cancel(appointment_id), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@click.argument("result", type=click.Choice(["attended", "missed"]))
@json_option
def outcome(appointment_id: int, result: str, as_json: bool) -> None:
    """Record whether the patient came to a session."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.outcome(appointment_id, result), as_json, print_detail)


def _patient_command(name: str, help_text: str) -> None:
    @cli.command(name, help=help_text)
    @click.argument("patient_id", type=int)
    @json_option
    def command(patient_id: int, as_json: bool) -> None:
        from scheduler.cli.output import print_detail

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
    from scheduler.cli.output import print_detail

    run(lambda c: c.set_interval(patient_id, days), as_json, print_detail)


@cli.command()
@click.argument("patient_id", type=int)
@click.argument("number")
@json_option
def phone(patient_id: int, number: str, as_json: bool) -> None:
    """Change a patient's mobile number; a number flagged invalid is cleared and texts resume."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.change_phone(patient_id, number), as_json, print_detail)


@cli.command()
@json_option
def demo(as_json: bool) -> None:
    """Enrol a demo patient if the database has no patients, and show their plan."""
    from scheduler.cli.output import print_detail
    from scheduler.demo import ensure_demo
    from scheduler.serialize import dumps

    with opened() as app:
        detail = ensure_demo(app)
    if as_json:
        click.echo(dumps(detail))
    else:
        print_detail(detail)


@cli.command()
@click.option("--protocol", default=DEFAULT_PROTOCOL, show_default=True, help="Protocol id.")
@click.option("--first", required=True, help='First session, local time: "YYYY-MM-DD HH:MM".')
@click.option("--timezone", "tz", required=True, help="The patient's IANA time zone.")
@click.option("--language", default="en", show_default=True, help="The patient's texts: en or es.")
@json_option
def preview(protocol: str, first: str, tz: str, language: str, as_json: bool) -> None:
    """Show the course a patient enrolled now would live: every session, and every message with
    its local send time, its words and its length in SMS segments. Writes nothing."""
    from scheduler.clock import SystemClock
    from scheduler.domain.enrolment import check_language
    from scheduler.domain.protocols import find_protocol, load_protocols
    from scheduler.serialize import dumps
    from scheduler.services.course_preview import preview_course
    from scheduler.settings_file import load_settings

    settings = load_settings()
    chosen = find_protocol(load_protocols(settings.protocols_file), protocol.strip())
    spoken = check_language(language)
    result = preview_course(settings, chosen, first, tz, SystemClock().now(), language=spoken)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(dumps(result))
        return
    click.echo(f"Sessions ({tz.strip()}):")
    for s in result.appointments:
        click.echo(f"  {s.local_start:%a %Y-%m-%d %H:%M}  {s.kind} {s.number}")
    click.echo("\nTexts:")
    for t in result.texts:
        size = f"{t.segments} {t.encoding} segment{'s' if t.segments != 1 else ''}"
        click.echo(f"  {t.local_due:%a %Y-%m-%d %H:%M}  {' + '.join(t.kinds)}  ({size})")
        click.echo(f"      {t.body}")
