"""Commands that correct a record or a course: edit a patient, add a session, restore one."""

from __future__ import annotations

import click

from scheduler.cli.base import cli, json_option, run


@cli.command()
@click.argument("patient_id", type=int)
@click.option("--name", help="The name as staff should see it.")
@click.option("--timezone", "tz", help="The right IANA time zone; sessions keep their local times.")
@click.option("--consent", help="How the patient agreed to texts.")
@click.option("--external-id", help="The clinic's record number (an empty value clears it).")
@click.option("--language", help="The patient's texts: en or es.")
@click.option("--protocol", help="A new protocol: the sessions ahead are replaced by its course.")
@click.option("--from", "start", help='With --protocol: when its course begins, "YYYY-MM-DD HH:MM" local.')
@json_option
def edit(
    patient_id: int,
    name: str | None,
    tz: str | None,
    consent: str | None,
    external_id: str | None,
    language: str | None,
    protocol: str | None,
    start: str | None,
    as_json: bool,
) -> None:
    """Correct a patient's record: only the fields given change. Texts already sent are never
    touched; the texts ahead are re-planned."""
    from scheduler.cli.output import print_detail
    from scheduler.services.edits import EditRequest

    request = EditRequest(name, tz, consent, external_id, language, protocol, start)
    run(lambda c: c.edit(patient_id, request), as_json, print_detail)


@cli.command("add-session")
@click.argument("patient_id", type=int)
@click.argument("when")
@json_option
def add_session(patient_id: int, when: str, as_json: bool) -> None:
    """Book one more session for the patient at WHEN ("YYYY-MM-DD HH:MM", their local time); the
    patient is told of it."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.add_session(patient_id, when), as_json, print_detail)


@cli.command()
@click.argument("appointment_id", type=int)
@json_option
def restore(appointment_id: int, as_json: bool) -> None:
    """Bring back a cancelled session that is still ahead, with fresh texts."""
    from scheduler.cli.output import print_detail

    run(lambda c: c.restore(appointment_id), as_json, print_detail)
