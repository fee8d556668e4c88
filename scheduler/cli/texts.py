"""Commands about the words patients read."""

from __future__ import annotations

import click

from scheduler.cli.base import cli, json_option


@cli.command()
@click.option("--language", help="Only this language's templates: en or es (default: all).")
@json_option
def templates(language: str | None, as_json: bool) -> None:
    """List the templates in use (the built-in ones, or TEMPLATES_FILE's where it replaces them),
    each rendered for a session a week from now at 10:00, with its length in SMS segments and
    encoding, and the most segments it can take with the longest day and time."""
    from datetime import datetime, timedelta

    from scheduler.clock import SystemClock
    from scheduler.domain.enrolment import check_language
    from scheduler.domain.states import Language
    from scheduler.domain.timeutil import to_local, zone
    from scheduler.serialize import dumps
    from scheduler.services.texts import template_entries
    from scheduler.settings_file import load_settings

    settings = load_settings()
    languages = [check_language(language)] if language else list(Language)
    today = to_local(SystemClock().now(), zone(settings.clinic_timezone)).date()
    sample = datetime.combine(today + timedelta(days=7), datetime.min.time()).replace(hour=10)
    entries = template_entries(settings.voice, languages, sample)
    if as_json:
        click.echo(dumps(entries))
        return
    for e in entries:
        own = "  [clinic's own]" if e.own else ""
        plural = "s" if e.segments != 1 else ""
        click.echo(
            f"[{e.language}] {e.name}: {e.segments} {e.encoding} segment{plural}; "
            f"at most {e.longest_segments} of {e.limit} allowed{own}"
        )
        click.echo(f"    {e.sample}")
