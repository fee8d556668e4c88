"""How the CLI writes results as text (with `--json` they go through `scheduler.serialize`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from scheduler.services import ImportReport
from scheduler.services.results import PatientCourse, PatientRecord, PatientView


def _local(instant: datetime | None, tz: ZoneInfo) -> str:
    return "-" if instant is None else instant.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def print_detail(detail: PatientCourse) -> None:
    p = detail.patient
    tz = ZoneInfo(p.timezone)
    flags = [f for f in ("opted-out" if p.opted_out else "", p.attention or "") if f]
    click.echo(
        f"Patient {p.id}: {p.name}  {p.phone}  {p.timezone}  {p.protocol}  {p.status}  texts in {p.language}"
        + (f"  [{', '.join(flags)}]" if flags else "")
    )
    if p.external_id:
        click.echo(f"Record number {p.external_id}")
    if p.touch_up_interval_days:
        click.echo(f"Touch-ups every {p.touch_up_interval_days} days")
    click.echo("\nSessions (patient's local time):")
    for a in detail.appointments:
        click.echo(f"  #{a.id:<5} {a.kind:<9} {a.number:>2}  {_local(a.starts_at, tz)}  {a.status}")
    click.echo("\nTexts:")
    for r in detail.reminders:
        session = f"session #{r.appointment_id}" if r.appointment_id else ""
        reason = f" ({r.reason})" if r.reason else ""
        click.echo(f"  {_local(r.due_at, tz)}  {r.kind:<9} {r.status}{reason}  {session}".rstrip())
    if isinstance(detail, PatientRecord) and detail.messages:
        click.echo("\nMessages:")
        for m in detail.messages:
            code = f" error {m.error_code}" if m.error_code else ""
            click.echo(f"  {_local(m.created_at, tz)}  {m.status}{code}  {m.body}")


def print_patients(rows: list[PatientView]) -> None:
    if not rows:
        click.echo("no patients")
        return
    click.echo(f"{'id':>5}  {'name':<30}  {'phone':<16} {'record':<12} {'protocol':<14} status")
    for p in rows:
        note = f"  [{p.attention}]" if p.attention else ""
        optout = "  [opted-out]" if p.opted_out else ""
        record = p.external_id or "-"
        click.echo(
            f"{p.id:>5}  {p.name:<30}  {p.phone:<16} {record:<12} {p.protocol:<14} {p.status}{optout}{note}"
        )


def import_json(report: ImportReport, dry_run: bool) -> dict[str, object]:
    return {
        "rows": report.rows,
        "ok": report.ok,
        "dry_run": dry_run,
        "problem": report.problem,
        "errors": [{"line": e.line, "error": e.message} for e in report.errors],
        "patient_ids": report.patient_ids,
    }


def print_import(report: ImportReport, dry_run: bool) -> None:
    if report.problem is not None:
        click.echo(f"error: {report.problem}; nothing imported", err=True)
        return
    for e in report.errors:
        click.echo(f"line {e.line}: {e.message}", err=True)
    if not report.ok:
        click.echo(f"error: {len(report.errors)} bad row(s); nothing imported", err=True)
    elif dry_run:
        click.echo(f"{report.rows} row(s) are valid; nothing written (dry run)")
    else:
        click.echo(f"imported {len(report.patient_ids)} patient(s)")
