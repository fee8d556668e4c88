"""A patient search among many reads an index on PostgreSQL: the migrations' search indexes must
match the conditions `records.matching_search` writes, or a large clinic's search quietly reads
every patient again. The planner is told to avoid reading the table where it can, so a plan
names the index only if the index can answer the condition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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


@pytest.fixture
def database_without_trigrams() -> Iterator[str]:
    """An empty database whose user may create tables but not extensions (a managed server's
    ordinary role), where pg_trgm is not installed yet."""
    if not POSTGRES_URL:
        pytest.skip("REMINDERS_TEST_POSTGRES_URL is not set")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:10]
    name, role = f"reminders_test_{suffix}", f"reminders_plain_{suffix}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    owner = create_engine(admin_url.set(database=name), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC, "{role}"'))
    owner.dispose()
    yield admin_url.set(database=name, username=role, password=None).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.mark.postgres
def test_without_pg_trgm_the_schema_migrates_and_searches_still_find_patients(
    database_without_trigrams: str, clock: FrozenClock
) -> None:
    before, after = upgrade(database_without_trigrams)
    assert (before, after) == (None, SCHEMA_REVISION)
    app = build(make_settings(database_without_trigrams), clock=clock)
    try:
        with app.engine.connect() as conn:
            installed = conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"))
            indexes = conn.scalars(
                text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_search_%'")
            )
            assert (installed, list(indexes)) == (0, [])
        clinic = app.clinic("test")
        clinic.enrol(
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
