"""Engines and sessions: SQLite in WAL mode with immediate transactions, or PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.errors import ConfigError, SchemaOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config

_PACKAGE = Path(__file__).resolve().parent.parent
# An installed wheel carries the migrations inside the package (pyproject.toml maps the top-level
# `migrations/` onto `scheduler._migrations`); a source tree, or an editable install, has them at
# its top. Either way they are found from the code's own location, never the working directory.
MIGRATIONS = (
    _PACKAGE / "_migrations"
    if (_PACKAGE / "_migrations" / "env.py").is_file()
    else _PACKAGE.parent / "migrations"
)
# The Alembic head this code expects (a test keeps it equal to the newest file in migrations/).
# Comparing against a constant keeps Alembic, and its start-up cost, out of every command.
SCHEMA_REVISION = "0015"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections each process (web, worker or command) keeps to PostgreSQL, and how many more it may
# open under load: at most POOL_SIZE + POOL_OVERFLOW (docs/deploy.md sizes the server from them).
# A worker uses a few at once (a dispatch tick, its heartbeat, the reconciler); a web process one
# per request being answered, the rest waiting their turn.
POOL_SIZE = 5
POOL_OVERFLOW = 5


# An execution option: the transaction only reads (on SQLite it starts without the write lock).
READ_ONLY = "reminders_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Statement parameters hold names, numbers and texts: keep them out of error messages.
    kwargs.setdefault("hide_parameters", True)
    return _make_engine(url, **kwargs)


def _make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; on SQLite every transaction starts with BEGIN IMMEDIATE.

    SQLite allows one writer: taking the write lock when the transaction starts, rather than on
    its first write, turns "database is locked" upgrade failures into an orderly wait.
    """
    try:
        parsed = make_url(url)
    except Exception:
        # Not the value: it may hold a password.
        raise ConfigError("DATABASE_URL is not a database URL (sqlite:///FILE or postgresql://...)") from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        check_sqlite(sqlite3.sqlite_version_info)
        in_memory = parsed.database in (None, "", ":memory:")
        if not in_memory:
            _private_file(Path(str(parsed.database)))
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _sqlite_immediate(engine, in_memory=in_memory)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


# RETURNING (3.35) for the claim; UPDATE ... FROM and json_each for a batch's writes.
SQLITE_NEEDED = (3, 35, 0)


def check_sqlite(version: tuple[int, int, int]) -> None:
    """Refuse a SQLite library older than the statements the outbox runs need."""
    if version < SQLITE_NEEDED:
        found, needed = (".".join(map(str, v)) for v in (version, SQLITE_NEEDED))
        raise ConfigError(f"SQLite {needed} or later is needed; this Python has {found} (or use PostgreSQL)")


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (or make it so) before SQLite opens it:
    SQLite gives its -wal and -shm files the database file's permissions."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if name.exists() and name.stat().st_mode & 0o077:
                name.chmod(0o600)
    except OSError:
        return  # SQLite says what is wrong when it opens the file


def _sqlite_immediate(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A long read (a report, an export) takes no write lock: WAL gives it a snapshot.
        reader = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")


def violated(exc: DBAPIError) -> str:
    """What a database refused a write for, naming no value: PostgreSQL's constraint name, or
    SQLite's `UNIQUE constraint failed: table.column`. The driver's full message is never shown:
    its DETAIL line quotes the values (a phone number)."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    message = str(exc.orig)
    return message if message.startswith(("UNIQUE constraint failed:", "FOREIGN KEY constraint")) else "?"


def unreachable(url: str) -> str:
    """What to tell an operator whose database at `url` cannot be reached or opened (no password)."""
    try:
        parsed = make_url(url)
    except Exception:
        return "the database at DATABASE_URL cannot be reached"
    if parsed.get_backend_name() == "sqlite":
        return (
            f"cannot open the SQLite database {parsed.database!r}: check that its folder exists and "
            "that this user may write to it (run the command as the service user, from the service's folder)"
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return (
        f"database unreachable at {where}: check DATABASE_URL, that the server is running and "
        "reachable from here, and that it accepts this user and password"
    )


def database_for(engine: Engine) -> sessionmaker[DbSession]:
    """The factory of database sessions (units of work open them) for `engine`."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> tuple[str | None, str | None]:
    """Apply every migration to the database at `url`; the revisions it was at before and after."""
    from alembic import command

    before = _revision_at(url)
    command.upgrade(alembic_config(url), "head")
    return before, _revision_at(url)


def downgrade(url: str, revision: str) -> tuple[str | None, str | None]:
    """Take the schema of the database at `url` back to `revision` (to run an older version);
    the revisions it was at before and after."""
    from alembic import command
    from alembic.util import CommandError

    before = _revision_at(url)
    try:
        command.downgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise ConfigError(f"cannot take the schema back to {revision!r}: {exc}") from None
    return before, _revision_at(url)


def _revision_at(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return schema_revision(engine)
    finally:
        engine.dispose()


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None when it has no schema yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(engine: Engine) -> None:
    """Refuse to run against a database whose schema is not at this code's revision."""
    current = schema_revision(engine)
    # Revisions are numbered in order (0001, 0002 ...), so a larger one is a newer schema.
    if current is not None and current > SCHEMA_REVISION:
        raise SchemaOutOfDate(
            f"the database schema ({current}) is newer than this version ({SCHEMA_REVISION}): install "
            f"the newer version again, or with it run `reminders db downgrade {SCHEMA_REVISION}` first"
        )
    if current != SCHEMA_REVISION:
        found = current or "no schema"
        raise SchemaOutOfDate(
            f"the database schema is not up to date ({found}; this version needs "
            f"{SCHEMA_REVISION}): run `reminders db upgrade`"
        )
