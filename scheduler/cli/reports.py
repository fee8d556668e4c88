"""Commands that read the clinic as a whole: `export` (patients or the message log as CSV) and
`report` (the weekly figures)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.cli.base import actor, cli, json_option, opened

if TYPE_CHECKING:
    from scheduler.services.exports import Export

output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV to this file (default: standard output).",
)


@cli.group()
def export() -> None:
    """Export as CSV (UTF-8): every patient, or the log of texts and replies. Each export is
    audited. Cells a spreadsheet would run as a formula are written with a leading quote."""


@export.command("patients")
@output_option
def export_patients(output: Path | None) -> None:
    """Every patient: record number, status, protocol, the next session and whether it is
    confirmed, sessions attended and missed, texts sent and failed."""
    with opened() as app:
        _write(lambda: app.exports(actor()).export_patients(), output)


@export.command("messages")
@click.option(
    "--from", "first", metavar="YYYY-MM-DD", help="The first of the clinic's days (default: the first)."
)
@click.option(
    "--to", "last", metavar="YYYY-MM-DD", help="The last of the clinic's days, included (default: today)."
)
@click.option(
    "--with-bodies", is_flag=True, help="Include what each text and reply said (left out by default)."
)
@output_option
def export_messages(first: str | None, last: str | None, with_bodies: bool, output: Path | None) -> None:
    """Texts sent and replies received, oldest first, with times in the clinic's zone."""
    from scheduler.services.exports import Period

    period = Period.parse(first, last)  # bad dates end here: exit 2, nothing audited or written
    with opened() as app:
        _write(lambda: app.exports(actor()).export_messages(period, bodies=with_bodies), output)


def _write(make: Callable[[], Export], output: Path | None) -> None:
    if output is None:
        export: Export = make()
        for chunk in export.lines():
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    # Into a file beside the target, renamed over it once complete: never a half-written export.
    folder = output.resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"the folder of {output.name} does not exist", param_hint="-o")
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            export = make()
            for chunk in export.lines():
                out.write(chunk)
        os.replace(partial, output)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    click.echo(f"wrote {export.count} row{'s' if export.count != 1 else ''} to {output}")


@cli.command()
@click.option("--weeks", type=click.IntRange(1), default=12, show_default=True, help="How many weeks.")
@click.option("--until", metavar="YYYY-MM-DD", help="A day of the last week (default: today).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of text.")
@json_option
def report(weeks: int, until: str | None, as_csv: bool, as_json: bool) -> None:
    """Weekly figures: sessions attended and missed, the confirmation rate, opt-outs, texts failed
    and expired. Weeks run Monday to Sunday in the clinic's time zone."""
    from scheduler.serialize import dumps
    from scheduler.services.exports import parse_day
    from scheduler.services.reports import report_csv, rows

    last = parse_day(until, "until") if until else None
    with opened() as app:
        result = app.reports(actor()).weekly(weeks, last)
    if as_json:
        click.echo(dumps(result))
    elif as_csv:
        sys.stdout.write(report_csv(result))
    else:
        header = (
            "week of",
            "attended",
            "missed",
            "asked",
            "confirmed",
            "rate",
            "opt-outs",
            "failed",
            "expired",
        )
        table = [list(header)] + [
            [*row[:5], "-" if not row[5] else f"{float(row[5]):.0%}", *row[6:]] for row in rows(result)
        ]
        widths = [max(len(r[n]) for r in table) for n in range(len(header))]
        for line in table:
            click.echo(
                "  ".join(
                    cell.rjust(w) if n else cell.ljust(w)
                    for n, (cell, w) in enumerate(zip(line, widths, strict=True))
                )
            )
        click.echo(f"weeks begin on Monday at 00:00 in {result.timezone}")
