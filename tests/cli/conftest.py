"""Fixtures for the CLI acceptance tests: the installed command, pointed at a test database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.harness import Reminders, clean_environment


@pytest.fixture
def reminders(database_url: str, tmp_path: Path) -> Reminders:
    """`reminders` on an empty, migrated database (SQLite and, when configured, PostgreSQL)."""
    return Reminders(tmp_path, clean_environment(DATABASE_URL=database_url))
