"""The SQLite file as the operating system sees it: health data, readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from scheduler.store.db import make_engine

REMINDERS = Path(sys.executable).parent / "reminders"


def modes(path: Path) -> dict[str, str]:
    files = (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
    return {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files if f.exists()}


def test_a_new_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "reminders.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    # A usual umask would make new files readable by everyone on the machine.
    subprocess.run(
        ["sh", "-c", f'umask 022 && "{REMINDERS}" db upgrade'], env=env, check=True, capture_output=True
    )
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:  # an open connection keeps -wal and -shm in place
        conn.execute(text("SELECT 1"))
        assert modes(path) == dict.fromkeys(("reminders.db", "reminders.db-wal", "reminders.db-shm"), "0o600")
    engine.dispose()


def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert modes(path) == {"old.db": "0o600"}
