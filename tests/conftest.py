"""Databases for tests: SQLite files and, when REMINDERS_TEST_POSTGRES_URL is set, PostgreSQL.

Each engine is migrated once per run with the real Alembic migrations; every test then starts
from empty tables. If REMINDERS_TEST_POSTGRES_URL is set but the server cannot be reached, the
run fails rather than quietly skipping the PostgreSQL half.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler.app import App, build
from scheduler.store.db import upgrade
from scheduler.store.models import Base
from tests.support import FrozenClock, make_settings, utc

POSTGRES_URL = os.environ.get("REMINDERS_TEST_POSTGRES_URL", "").strip()
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway database on the test server, migrated once, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("REMINDERS_TEST_POSTGRES_URL is not set")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"reminders_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at REMINDERS_TEST_POSTGRES_URL is unreachable: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a fresh SQLite file, or emptied PostgreSQL tables."""
    if request.param == "sqlite":
        path = tmp_path / "reminders.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FrozenClock:
    # A Tuesday morning in New York (14:00 UTC = 09:00 EST).
    return FrozenClock(utc(2026, 3, 3, 14, 0))


@pytest.fixture
def app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    built = build(make_settings(database_url), clock)
    yield built
    built.close()
