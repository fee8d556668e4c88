"""What the wheel carries: every package folder, and the migrations inside the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

from scheduler.store.db import MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_wheel_lists_every_package_folder_and_the_migrations() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]  # type: ignore[index]
    folders = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "scheduler").rglob("__init__.py")
    }
    migrations = {"scheduler._migrations", "scheduler._migrations.versions"}
    assert set(setuptools["packages"]) == folders | migrations
    assert setuptools["package-dir"] == {"scheduler._migrations": "migrations"}
    assert setuptools["package-data"]["scheduler._migrations"] == ["script.py.mako"]


def test_migrations_are_found_from_the_code_not_the_working_directory() -> None:
    # From a source tree (or an editable install) they are the top-level folder alembic.ini names.
    assert MIGRATIONS == ROOT / "migrations"
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
