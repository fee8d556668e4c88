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

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session as DbSession

from scheduler.store.types import EnumText, UTCDateTime

Row = Mapping[str, Any]


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
    convert = [_converter(table, name, connection.dialect) for name in columns]
    values = [tuple(f(row[name]) for f, name in zip(convert, columns, strict=True)) for row in rows]
    new_ids: list[int] = []
    if ids:
        last = connection.execute(select(func.max(table.c.id))).scalar() or 0
        new_ids = list(range(last + 1, last + 1 + len(rows)))
        columns.insert(0, "id")
        values = [(i, *v) for i, v in zip(new_ids, values, strict=True)]
    quote = connection.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    connection.exec_driver_sql(sql, values)
    return new_ids


def _converter(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any]:
    """The column's conversion of a value to what the driver stores; remembered for each value
    where the value alone decides it (UTC instants, enums)."""
    column_type = table.columns[name].type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return _same
    if not isinstance(column_type, UTCDateTime | EnumText):
        return process
    seen: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        # Only UTC instants: two wall-clock times in one zone that differ only in `fold` (the
        # hour a clock goes back) compare equal, yet are different instants.
        if value is None or (isinstance(value, datetime) and value.tzinfo is not UTC):
            return process(value)
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = process(value)
            return converted

    return remembered


def _same(value: Any) -> Any:
    return value
