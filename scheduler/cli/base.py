"""What every command shares: the `reminders` group, opening the app, the actor, JSON or text out.

Exit codes: 0 success, 2 bad input (one `error: ...` line on stderr, nothing written), 1 other
failures.
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

    from scheduler.app import App
    from scheduler.services import Clinic

R = TypeVar("R", bound="BaseModel | Sequence[BaseModel]")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Plan treatment courses and text patients their reminders.

    Reads its settings from the environment and from a .env file (see .env.example).
    """


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def opened(*, check_schema: bool = True) -> Iterator[App]:
    from scheduler.app import build, load_settings

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


def run(action: Callable[[Clinic], R], as_json: bool, show: Callable[[R], None]) -> None:
    """Open the app, carry out one clinic operation as the CLI's user, print its answer."""
    from scheduler.serialize import dumps

    with opened() as app:
        result = action(app.clinic(actor()))
    for warning in getattr(result, "warnings", ()):
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(dumps(result))
    else:
        show(result)


def configure_logging() -> None:
    from scheduler.logs import configure

    configure(logging.INFO)
    # APScheduler reports every run at INFO; ours say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
