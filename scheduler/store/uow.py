"""The unit of work: one transaction per operation; helpers flush, only the unit of work commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """`with UnitOfWork(sessions) as uow: ...; uow.commit()` — anything not committed rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
