"""The unit of work: one transaction per operation; helpers flush, only the unit of work commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.store.db import READ_ONLY


class UnitOfWork:
    """`with UnitOfWork(database) as uow: ...; uow.commit()` — anything not committed rolls back."""

    def __init__(self, database: sessionmaker[DbSession]) -> None:
        self._database = database

    def __enter__(self) -> UnitOfWork:
        self.db = self._database()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable.
        self.db.close()

    def commit(self) -> None:
        self.db.commit()


@contextmanager
def reading(database: sessionmaker[DbSession]) -> Iterator[DbSession]:
    """A session for a long read-only transaction (a report, an export): on SQLite it does not
    hold the write lock, so workers and staff keep writing while it runs."""
    with database() as db:
        db.connection(execution_options={READ_ONLY: True})
        yield db
