"""Bulk inserts (`store.bulk.BulkInserts`), as an import uses them: ids given out in the order of
the rows, across several inserts into one table, and all or nothing when a statement fails, also
when it fails behind the caller (on a SQLite file the statements run in a thread of their own)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from scheduler.app import App
from scheduler.store import bulk
from scheduler.store.bulk import BulkInserts
from scheduler.store.models import Patient
from scheduler.store.uow import UnitOfWork

PATIENTS: Table = Patient.__table__  # type: ignore[assignment]
NOW = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def patient(n: int, phone: str | None = None) -> dict[str, Any]:
    return {
        "name": f"Patient {n}",
        "phone": phone or f"+1201555{n:04d}",
        "timezone": "America/New_York",
        "protocol": "iv-6x-mwf",
        "status": "active",
        "consent_source": "intake-form",
        "consent_at": NOW,
        "language": "en",
        "external_id": f"MRN-{n}",
        "created_at": NOW,
        "updated_at": NOW,
    }


def names_by_id(app: App) -> dict[int, str]:
    with UnitOfWork(app.database) as uow:
        return dict(uow.db.execute(select(Patient.id, Patient.name)).tuples().all())


def test_ids_follow_the_rows_across_inserts_into_one_table(app: App) -> None:
    with UnitOfWork(app.database) as uow:
        with BulkInserts(uow.db) as bulk:
            first = bulk.insert(PATIENTS, [patient(n) for n in range(1, 4)], ids=True)
            second = bulk.insert(PATIENTS, [patient(n) for n in range(4, 6)], ids=True)
        uow.commit()
    assert len(first) == 3
    assert second == [first[-1] + 1, first[-1] + 2]
    assert names_by_id(app) == {i: f"Patient {n}" for n, i in enumerate(first + second, 1)}

    with UnitOfWork(app.database) as uow:
        with BulkInserts(uow.db) as bulk:
            later = bulk.insert(PATIENTS, [patient(6)], ids=True)
        uow.commit()
    assert later == [second[-1] + 1]


def write(app: App, *batches: list[dict[str, Any]], fail: bool = False) -> None:
    """Each batch one insert, in one transaction; `fail`: the caller fails after handing them over."""
    with UnitOfWork(app.database) as uow:
        with BulkInserts(uow.db) as bulk:
            for batch in batches:
                bulk.insert(PATIENTS, batch, ids=True)
            if fail:
                raise RuntimeError("planning failed")
        uow.commit()


def test_a_failed_statement_writes_nothing_and_says_why(app: App) -> None:
    """The second insert repeats a record number (unique): the whole transaction goes, with the
    rows handed over after the failing ones."""
    repeated = patient(9, phone="+12015559999") | {"external_id": "MRN-2"}
    with pytest.raises(IntegrityError):
        write(app, [patient(n) for n in range(1, 4)], [repeated], [patient(10)])
    assert names_by_id(app) == {}


def test_an_error_of_the_caller_stops_the_writing(app: App) -> None:
    with pytest.raises(RuntimeError, match="planning failed"):
        write(app, [patient(n) for n in range(1, 200)], [patient(300)], fail=True)
    assert names_by_id(app) == {}
    assert not [t for t in threading.enumerate() if t.name == "bulk-insert"]


def test_many_rows_go_in_several_statements_each_in_order(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", 3)
    write(app, [patient(n) for n in range(1, 11)])
    stored = names_by_id(app)
    first = min(stored)
    assert stored == {first + n: f"Patient {n + 1}" for n in range(10)}
