"""A patient search among many reads an index on PostgreSQL: the migrations' search indexes must
match the conditions `records.matching_search` writes, or a large clinic's search quietly reads
every patient again. The planner is told to avoid reading the table where it can, so a plan
names the index only if the index can answer the condition."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, select

from scheduler.services.records import matching_search
from scheduler.store.db import make_engine
from scheduler.store.models import Patient

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def plan(conn: Connection, query: str) -> str:
    statement = select(Patient.id).where(matching_search(query, "US"))
    compiled = statement.compile(dialect=conn.dialect)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows: Any = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
    return "\n".join(rows)


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        ("rivera", {"ix_search_patients_name", "ix_search_patients_record"}),
        ("MRN-0042", {"ix_search_patients_name", "ix_search_patients_record"}),
        ("555-0123", {"ix_search_patients_phone", "ix_search_patients_record"}),
        ("(201) 555-0123", {"ix_search_patients_phone", "ix_search_patients_record"}),
    ],
)
def test_a_search_by_name_number_or_record_number_reads_the_search_indexes(
    database_url: str, query: str, indexes: set[str]
) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            found = plan(conn, query)
    finally:
        engine.dispose()
    assert "Seq Scan on patients" not in found, found
    for index in indexes:
        assert index in found, found
