"""Plain SQL against a test's database, on a connection of its own (not the app's engine): as a
hand-written statement, a restore or another program would write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, text

from scheduler.app import App


@contextmanager
def connected(app: App) -> Iterator[Connection]:
    """A transaction on a connection of its own, committed at the end."""
    engine = create_engine(app.settings.database_url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def write(app: App, sql: str, **values: object) -> None:
    with connected(app) as db:
        db.execute(text(sql), values)
