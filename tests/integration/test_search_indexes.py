"""A patient search among many reads an index on PostgreSQL: the migrations' search indexes must
match the conditions `records.matching_search` writes, or a large clinic's search quietly reads
every patient again. The planner is told to avoid reading the table where it can, so a plan
names the index only if the index can answer the condition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url

from scheduler.app import build
from scheduler.services import EnrolRequest
from scheduler.services.records import matching_search
from scheduler.store.db import SCHEMA_REVISION, make_engine, upgrade
from scheduler.store.models import Patient
from tests.conftest import POSTGRES_URL
from tests.support import FrozenClock, make_settings

ON_POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def plan(conn: Connection, query: str) -> str:
    statement = select(Patient.id).where(matching_search(query, "US"))
    compiled = statement.compile(dialect=conn.dialect)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows: Any = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
    return "\n".join(rows)


@ON_POSTGRES
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


@contextmanager
def fresh_database(*, extensions: bool, trigrams_in: str | None = None) -> Iterator[str]:
    """An empty database and a role that may create tables in it, and extensions if
    `extensions` (as the database's owner may); with pg_trgm installed beforehand in the schema
    `trigrams_in` (outside the search path, as some managed servers keep extensions)."""
    if not POSTGRES_URL:
        pytest.skip("REMINDERS_TEST_POSTGRES_URL is not set")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:10]
    name, role = f"reminders_test_{suffix}", f"reminders_plain_{suffix}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' OWNER "{role}"' if extensions else "")))
    owner = create_engine(admin_url.set(database=name), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"'))
        if not extensions:
            conn.execute(text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC, "{role}"'))
        if trigrams_in:
            conn.execute(text(f'CREATE SCHEMA "{trigrams_in}"'))
            conn.execute(text(f'CREATE EXTENSION pg_trgm SCHEMA "{trigrams_in}"'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{trigrams_in}" TO "{role}"'))
    owner.dispose()
    try:
        yield admin_url.set(database=name, username=role, password=None).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def search_indexes(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_search_%' ORDER BY 1")
            return list(conn.scalars(found))
    finally:
        engine.dispose()


SEARCH_INDEXES = ["ix_search_patients_name", "ix_search_patients_phone", "ix_search_patients_record"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("situation", "indexes"),
    [
        ({"extensions": True}, SEARCH_INDEXES),  # the owner migrates: pg_trgm is installed
        ({"extensions": True, "trigrams_in": "extensions"}, SEARCH_INDEXES),
        ({"extensions": False}, []),  # no pg_trgm, and no right to install it
    ],
    ids=["owner", "pg_trgm-in-another-schema", "no-pg_trgm"],
)
def test_the_schema_migrates_with_or_without_pg_trgm_and_searches_find_patients(
    situation: dict[str, Any], indexes: list[str], clock: FrozenClock
) -> None:
    with fresh_database(**situation) as url:
        assert upgrade(url) == (None, SCHEMA_REVISION)
        assert search_indexes(url) == indexes
        app = build(make_settings(url), clock=clock)
        try:
            app.clinic("test").enrol(
                EnrolRequest(
                    name="Ana Lima", phone="(201) 555-0123", timezone="America/New_York",
                    protocol="iv-6x-mwf", first="2026-03-09 10:00", consent="form", external_id="MRN-0042",
                )
            )  # fmt: skip
            desk = app.desk("test")
            for query in ("lima", "555-0123", "mrn-0042"):
                assert [row.name for row in desk.find_patients(query).rows] == ["Ana Lima"], query
        finally:
            app.close()
