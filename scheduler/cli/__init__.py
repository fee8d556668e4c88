"""The `reminders` command: arguments in, one service call, output and an exit code out.

Exit codes: 0 success, 2 bad input (one `error: ...` line on stderr, nothing written), 1 other
failures. The commands live by concept: `course` (enrol and change patients), `edits` (correct
a record or a course), `operations` (migrations, dispatching, the worker and the web app),
`accounts` (staff and API tokens), `texts` (the templates patients read).
"""

from __future__ import annotations

import os
import sys

import click

from scheduler.cli import accounts, course, edits, operations, texts
from scheduler.cli import reports as reports  # `export` and `report`
from scheduler.cli.base import cli, fail
from scheduler.errors import ConfigError, InvalidInput, ReminderError, SchemaOutOfDate

__all__ = ["accounts", "cli", "course", "edits", "main", "operations", "texts"]


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
    except PermissionError as exc:
        fail(
            f"permission denied on {exc.filename or 'a file'}: run the command as the service user, "
            "from the service's folder",
            1,
        )
    except Exception as exc:
        if os.environ.get("REMINDERS_DEBUG"):
            raise
        if _database_unreachable(exc):
            from scheduler.config import Settings
            from scheduler.store.db import unreachable

            # load_settings has put .env into the environment by now.
            fail(unreachable(os.environ.get("DATABASE_URL", "").strip() or Settings.database_url), 1)
        # The message of an unexpected error may quote data; name only its type.
        fail(f"unexpected {type(exc).__name__}; run with REMINDERS_DEBUG=1 for the traceback", 1)
    sys.exit(0)


def _database_unreachable(exc: Exception) -> bool:
    """Whether `exc` is SQLAlchemy failing to reach or open the database (not a refused write)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)
