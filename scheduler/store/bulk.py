"""Inserting many rows in one statement per table: an import's patients, sessions, texts and
audit entries.

On SQLite the rows go straight to the driver's `executemany`, each value converted by its
column's own type once (an instant, a status and an enrolment time recur across thousands of
rows), so what is stored is exactly what an ORM insert stores. New ids are given out as SQLite
itself would give them: one past the largest in the table, in the order of the rows. That is safe
because every SQLite transaction that writes holds the write lock from its start (BEGIN
IMMEDIATE, see `db`), and no table here is AUTOINCREMENT. PostgreSQL takes SQLAlchemy's
multi-row INSERTs, with RETURNING where ids are wanted.
"""

from __future__ import annotations

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


def insert_rows(db: DbSession, table: Table, rows: Sequence[Row], *, ids: bool = False) -> list[int]:
    """Insert `rows` (each with the same columns, every column with a default among them) in the
    caller's transaction. With `ids`, the new rows' ids in the order of `rows`; else []."""
    if not rows:
        return []
    connection = db.connection()
    if connection.dialect.name != "sqlite":
        if not ids:
            connection.execute(insert(table), list(rows))
            return []
        result = connection.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [int(i) for i in result.scalars()]
    columns = list(rows[0])
    missing = [c.name for c in table.columns if c.default is not None and c.name not in columns]
    if missing:
        raise ValueError(f"rows for {table.name} lack {', '.join(missing)}, which have defaults")
    values = [_stored(table, name, [row[name] for row in rows], connection.dialect) for name in columns]
    new_ids: list[int] = []
    if ids:
        last = connection.execute(select(func.max(table.c.id))).scalar() or 0
        new_ids = list(range(last + 1, last + 1 + len(rows)))
        columns.insert(0, "id")
        values.insert(0, new_ids)
    quote = connection.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return new_ids


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
