"""What the wheel carries (every package folder, the migrations inside the package), and what the
deploy guide says of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from scheduler.store.db import MIGRATIONS, POOL_OVERFLOW, POOL_SIZE

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


def test_the_deploy_guide_sizes_connections_from_the_real_pool() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert f"pool of up to {POOL_SIZE} connections and opens up to {POOL_OVERFLOW} more" in guide
    assert f"at most {POOL_SIZE + POOL_OVERFLOW}" in guide
    assert f"for {POOL_SIZE + POOL_OVERFLOW} × (web processes + workers" in guide
