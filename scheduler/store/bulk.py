"""Inserting many rows in few statements: an import's patients, sessions, texts and audit
entries (`BulkInserts`).

On SQLite each value is converted by its column's own type once (an instant, a status and an
enrolment time recur across thousands of rows), so what is stored is exactly what an ORM insert
stores.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session as DbSession

from scheduler.store.types import EnumText, UTCDateTime

Row = Mapping[str, Any]
# The page cache for bulk writes on SQLite, at most (SQLite takes the memory as pages are used).
BULK_CACHE_MIB = 256
# On SQLite, the most rows one statement carries (its JSON parameter stays a few MB long).
ROWS_PER_STATEMENT = 20_000


@contextmanager
def bulk_cache(db: DbSession) -> Iterator[None]:
    """On SQLite, a page cache of up to BULK_CACHE_MIB for the caller's bulk writes, back to the
    connection's own size afterwards. With the default 2 MiB, the pages of a table's indexes
    written in bulk are evicted and read back again and again."""
    connection = db.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_MIB * 1024}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={before}")


class BulkInserts:
    """Many rows in few statements, in the caller's transaction: an import's tables one after
    another (`insert`), each insert's new ids in the order of its rows.

    On a SQLite file each insert is one statement that reads its rows from a JSON parameter, run
    in a thread of its own on the caller's connection: SQLite does that work without the GIL, so
    the caller computes the next rows meanwhile. New ids are given out as SQLite itself would give
    them: one past the largest in the table, in the order of the rows. That is safe because every
    SQLite transaction that writes holds the write lock from its start (BEGIN IMMEDIATE, see
    `db`), and no table here is AUTOINCREMENT. The caller uses the session for nothing else until
    the `with` block ends; it ends once every row is written, raising the first error. Elsewhere
    (PostgreSQL, an in-memory SQLite) each insert runs at once: PostgreSQL takes SQLAlchemy's
    multi-row INSERTs, with RETURNING where ids are wanted.
    """

    def __init__(self, db: DbSession) -> None:
        self._connection = db.connection()
        dialect = self._connection.dialect
        self._json = dialect.name == "sqlite"
        database = self._connection.engine.url.database
        self._behind = self._json and database not in (None, "", ":memory:")
        self._next_id: dict[str, int] = {}
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._abandoned = False  # the caller failed: what is still queued is not written
        self._writer: threading.Thread | None = None

    def __enter__(self) -> BulkInserts:
        if self._behind:
            self._writer = threading.Thread(target=self._write, name="bulk-insert", daemon=True)
            self._writer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._writer is None:
            return
        self._abandoned = kind is not None
        self._work.put(None)
        interrupted: BaseException | None = None
        while self._writer.is_alive():
            try:
                self._writer.join()
            except BaseException as exc:  # Ctrl-C: the connection stays the writer's until it stops
                self._abandoned = True
                interrupted = interrupted or exc
        self._writer = None
        if interrupted is not None:
            raise interrupted
        if self._error is not None and kind is None:
            raise self._error

    def insert(self, table: Table, rows: Sequence[Row], *, ids: bool = False) -> list[int]:
        """Insert `rows` (each with the same columns, every column with a default among them).
        With `ids`, the new rows' ids in the order of `rows`; else []."""
        if self._error is not None:
            raise self._error
        if not rows:
            return []
        connection = self._connection
        if not self._json:
            if not ids:
                connection.execute(insert(table), list(rows))
                return []
            result = connection.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            return [int(i) for i in result.scalars()]
        columns = list(rows[0])
        missing = [c.name for c in table.columns if c.default is not None and c.name not in columns]
        if missing:
            raise ValueError(f"rows for {table.name} lack {', '.join(missing)}, which have defaults")
        values = [_stored(table, name, [row[name] for row in rows], connection.dialect) for name in columns]
        new_ids: list[int] = []
        if ids:
            first = self._first_id(table)
            new_ids = list(range(first, first + len(rows)))
            self._next_id[table.name] = first + len(rows)
            columns.insert(0, "id")
            values.insert(0, new_ids)
        quote = connection.dialect.identifier_preparer.quote
        picked = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(columns)))
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {picked} FROM json_each(?)"
        )
        stored = list(zip(*values, strict=True))
        for start in range(0, len(stored), ROWS_PER_STATEMENT):
            chunk = stored[start : start + ROWS_PER_STATEMENT]
            payload = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
            if self._writer is None:
                connection.exec_driver_sql(sql, (payload,))
            else:
                self._work.put((sql, payload))
        return new_ids

    def _first_id(self, table: Table) -> int:
        if table.name not in self._next_id:
            self._work.join()  # the connection is the writer's until what it was handed is written
            last = self._connection.execute(select(func.max(table.c.id))).scalar()
            self._next_id[table.name] = (last or 0) + 1
        return self._next_id[table.name]

    def _write(self) -> None:
        while (item := self._work.get()) is not None:
            try:
                if self._error is None and not self._abandoned:
                    self._connection.exec_driver_sql(item[0], (item[1],))
            except BaseException as exc:  # raised in the caller's thread
                self._error = exc
            finally:
                self._work.task_done()
        self._work.task_done()


def _stored(table: Table, name: str, values: list[Any], dialect: Dialect) -> list[Any]:
    """A column's values as the driver is to store them, by the column's own type: converted once
    for each distinct value where the value alone decides it (enums, UTC instants)."""
    column_type = table.columns[name].type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    if isinstance(column_type, UTCDateTime | EnumText):
        distinct = set(values)
        # Two wall-clock times of one zone that differ only in `fold` (the hour a clock goes
        # back) compare equal, yet are different instants: only UTC instants are merged.
        if all(not isinstance(v, datetime) or v.tzinfo is UTC for v in distinct):
            stored = {v: process(v) for v in distinct}
            return [stored[v] for v in values]
    return [process(v) for v in values]
