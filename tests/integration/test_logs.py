"""Log lines carry no patient data, even a traceback of a write the database refused."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy.exc import IntegrityError

from scheduler.app import App
from scheduler.logs import WITHHELD, SafeFormatter, format_exception
from scheduler.services import EnrolRequest
from scheduler.store.models import Patient
from scheduler.store.uow import UnitOfWork

PHONE = "+12015550123"


def refused_write(app: App) -> IntegrityError:
    """The database's own refusal of a second patient in care with the same number."""
    app.clinic("test").enrol(
        EnrolRequest("Zoë Secret", PHONE, "America/New_York", "iv-6x-mwf", "2026-03-09 10:00", "form")
    )
    with UnitOfWork(app.database) as uow:
        first = uow.db.get(Patient, 1)
        assert first is not None
        twin = Patient(**{c.key: getattr(first, c.key) for c in Patient.__table__.columns if c.key != "id"})
        uow.db.add(twin)
        with pytest.raises(IntegrityError) as refused:
            uow.db.flush()
    return refused.value


def test_a_refused_write_is_logged_with_its_type_and_frames_but_not_the_values_it_quotes(app: App) -> None:
    exc = refused_write(app)
    if app.engine.dialect.name == "postgresql":
        assert PHONE in str(exc)  # PostgreSQL's DETAIL line quotes the number
    text = format_exception(exc)
    assert "IntegrityError" in text
    assert WITHHELD in text
    assert "Traceback (most recent call last)" in text
    assert "5550123" not in text
    assert "Zoë" not in text

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.logs")
    log.addHandler(handler)
    try:
        try:
            raise RuntimeError("the batch failed") from exc
        except RuntimeError:
            log.exception("a dispatch batch failed unexpectedly")
    finally:
        log.removeHandler(handler)
    logged = stream.getvalue()
    assert "RuntimeError: the batch failed" in logged
    assert "IntegrityError" in logged
    assert "5550123" not in logged
