"""CSV exports of a clinic whose texts went out through the dispatcher (real twilio-python to the
fake Twilio): read back with Python's csv module, every patient comes out as the rows say, cells
a spreadsheet would run come out neutralised, the message log keeps its bodies unless asked, and
every export is audited without a patient's data in the logs. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scheduler.app import App
from scheduler.dispatch import Dispatcher
from scheduler.errors import InvalidInput
from scheduler.services import EnrolRequest
from scheduler.services.exports import PATIENT_COLUMNS, Export, Period
from scheduler.services.replies import Replies
from scheduler.store.models import Appointment, AuditEntry, Message, Patient, Reminder, Reply
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock, utc
from tests.support.fake_twilio import FakeTwilio

# The clock stands at Tue 2026-03-03 09:00 in New York.
NAMES = ['=HYPERLINK("http://x")', "+1 Plus", "-Minus", "@Sum", "O'Brien, Seán", 'Ana "Quoted", Lima',
         "Zoë Ñúñez", "Mid=Equals", "Plain Name"]  # fmt: skip
REFUSED = "+12015550208"  # the carrier says 21610 to this one


def local(instant: datetime, tz: str) -> str:
    return instant.astimezone(ZoneInfo(tz)).isoformat(timespec="minutes")


def read(export: Export) -> list[dict[str, str]]:
    text = "".join(export.lines())
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def clinic(app: App, dispatcher: Dispatcher, fake_twilio: FakeTwilio, clock: FrozenClock) -> App:
    """Nine patients; a week of texts, outcomes and replies; one patient with no sessions ahead."""
    fake_twilio.script(REFUSED, code=21610)
    clinic = app.clinic("test")
    for n, name in enumerate(NAMES):
        external_id = f"MRN-{n}" if n % 2 else ""
        request = EnrolRequest(name, f"+1201555{200 + n:04d}", "America/New_York", "iv-6x-mwf",
                               f"2026-03-{4 + n % 3:02d} 10:00", "form", external_id=external_id,
                               language="es" if n % 4 == 1 else "en")  # fmt: skip
        clinic.enrol(request)
    replies = Replies(app.settings, app.protocols, app.database, app.clock)
    for day in range(8):
        clock.set(utc(2026, 3, 3 + day, 15))
        dispatcher.drain()
        replies.receive("+12015550201", "C", f"SMc{day}")
        clock.set(utc(2026, 3, 3 + day, 23))
        with UnitOfWork(app.database) as uow:
            over = uow.db.execute(
                select(Appointment.id, Appointment.patient_id).where(
                    Appointment.status.in_(("scheduled", "confirmed")), Appointment.starts_at <= clock.now()
                )
            ).all()
        for appointment_id, patient_id in over:
            clinic.outcome(appointment_id, "missed" if patient_id % 3 == 0 else "attended")
            if patient_id % 3 == 0:
                clinic.resume(patient_id)
    clinic.discharge(9)
    replies.receive("+12015550202", "Where do I park?", "SMpark")
    return app


def test_the_patient_export_round_trips_every_patient(clinic: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    export = clinic.exports("user:ana@example.org").export_patients()
    rows = read(export)
    assert list(rows[0]) == list(PATIENT_COLUMNS)
    now = clinic.clock.now()
    with UnitOfWork(clinic.database) as uow:
        patients = list(uow.db.scalars(select(Patient).order_by(Patient.id)))
        sessions = list(uow.db.scalars(select(Appointment)))
        texts = list(uow.db.scalars(select(Reminder)))
    assert len(rows) == len(patients) == export.count == 9
    for patient, row in zip(patients, rows, strict=True):
        mine = [a for a in sessions if a.patient_id == patient.id]
        ahead = sorted((a for a in mine if a.status in ("scheduled", "confirmed") and a.starts_at > now),
                       key=lambda a: a.starts_at)  # fmt: skip
        outcomes = Counter(str(a.status) for a in mine)
        sent = Counter(str(r.status) for r in texts if r.patient_id == patient.id)
        name = ("'" + patient.name) if patient.name[0] in "=+-@" else patient.name
        assert row == {
            "id": str(patient.id),
            "external_id": patient.external_id or "",
            "name": name,
            "status": patient.status,
            "protocol": patient.protocol,
            "timezone": patient.timezone,
            "language": patient.language,
            "next_session": local(ahead[0].starts_at, patient.timezone) if ahead else "",
            "next_session_confirmed": ("yes" if ahead[0].confirmed_at else "no") if ahead else "",
            "sessions_attended": str(outcomes["attended"]),
            "sessions_missed": str(outcomes["missed"]),
            "texts_sent": str(sent["sent"] + sent["delivered"]),
            "texts_failed": str(sent["failed"]),
        }, patient.id
    by_name = {row["id"]: row["name"] for row in rows}
    assert by_name["1"] == '\'=HYPERLINK("http://x")'
    assert by_name["2"] == "'+1 Plus"
    assert by_name["7"] == "Zoë Ñúñez"
    assert by_name["4"] == "'@Sum"
    assert by_name["6"] == 'Ana "Quoted", Lima'
    assert by_name["8"] == "Mid=Equals"
    # Something in every column somewhere: the history is not empty.
    assert any(row["next_session_confirmed"] == "yes" for row in rows)
    assert any(row["next_session_confirmed"] == "no" for row in rows)
    assert sum(int(row["sessions_missed"]) for row in rows) > 0
    assert sum(int(row["texts_failed"]) for row in rows) > 0
    assert any(row["status"] == "discharged" and row["next_session"] == "" for row in rows)
    # Audited with who and how many, and nothing about the patients in the logs.
    with UnitOfWork(clinic.database) as uow:
        entry = uow.db.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert (entry.actor, entry.details) == ("user:ana@example.org", {"what": "patients", "rows": 9})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "export of patients by user:ana@example.org: 9 rows" in logged
    assert not any(part in logged for part in ("HYPERLINK", "Plus", "Zoë", "Brien", "MRN-"))


def test_the_message_log_covers_the_clinics_days_and_leaves_bodies_out_unless_asked(clinic: App) -> None:
    exports = clinic.exports("cli:ana")
    period = Period.parse("2026-03-04", "2026-03-05")
    plain = read(exports.export_messages(period))
    with_bodies = read(exports.export_messages(period, bodies=True))
    assert "body" not in plain[0]
    assert [{k: v for k, v in row.items() if k != "body"} for row in with_bodies] == plain
    # Every text and reply of those two New York days, and none of the others.
    start, end = utc(2026, 3, 4, 5), utc(2026, 3, 6, 5)
    with UnitOfWork(clinic.database) as uow:
        texts = uow.db.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.created_at >= start, Message.created_at < end)
        )
        replies = list(
            uow.db.scalars(select(Reply).where(Reply.received_at >= start, Reply.received_at < end))
        )
        bodies = set(uow.db.scalars(select(Message.body)))
    answers = [r for r in replies if r.auto_reply]
    assert texts is not None
    assert len(plain) == texts + len(replies) + len(answers)
    assert Counter(row["direction"] for row in plain) == {"out": texts + len(answers), "in": len(replies)}
    assert all(row["at"].startswith(("2026-03-04T", "2026-03-05T")) for row in plain)
    assert all(row["at"].endswith("-05:00") for row in plain)
    assert {row["body"] for row in with_bodies if row["kind"] not in ("reply", "automatic answer")} <= bodies
    assert all(row["body"] for row in with_bodies)
    assert any(row["kind"] == "reply" and row["status"] == "confirm" for row in plain)
    assert plain == sorted(plain, key=lambda row: row["at"])
    # Open-ended: everything.
    everything = read(exports.export_messages(Period()))
    assert len(everything) > len(plain)
    with UnitOfWork(clinic.database) as uow:
        details = list(uow.db.scalars(select(AuditEntry.details).where(AuditEntry.action == "export")))
    assert details == [
        {"what": "messages", "rows": len(plain), "from": "2026-03-04", "to": "2026-03-05", "bodies": False},
        {"what": "messages", "rows": len(plain), "from": "2026-03-04", "to": "2026-03-05", "bodies": True},
        {"what": "messages", "rows": len(everything), "from": None, "to": None, "bodies": False},
    ]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-02-30", None, "the from date must be a real date written YYYY-MM-DD, like 2026-03-01"),
        ("2026-03-01", "next week", "the to date must be a real date written YYYY-MM-DD, like 2026-03-01"),
        ("20260301", None, "the from date must be a real date written YYYY-MM-DD, like 2026-03-01"),
        ("2026-03-05", "2026-03-04", "the to date is before the from date"),
    ],
)
def test_a_bad_range_is_refused_before_anything_is_audited(
    app: App, first: str, last: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        app.exports("cli:ana").export_messages(Period.parse(first, last))
    assert str(refused.value) == message
    with UnitOfWork(app.database) as uow:
        assert uow.db.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_large_export_is_written_in_batches_without_holding_up_writers(app: App) -> None:
    clinic = app.clinic("test")
    rows = ["name,phone,timezone,protocol,first,consent"]
    first = date(2026, 3, 9)
    for n in range(1200):
        day = first + timedelta(days=n % 5)
        rows.append(f"Patient {n},+1201556{n:04d},America/New_York,,{day} 10:00,form")
    assert clinic.import_csv("\n".join(rows) + "\n").ok
    export = app.exports("test").export_patients()
    lines = export.lines()
    chunks = [next(lines)]
    # Halfway through the export, staff and workers still write at once (SQLite: no write lock).
    began = time.perf_counter()
    clinic.pause(1)
    assert time.perf_counter() - began < 1
    chunks.extend(lines)
    assert len(chunks) == 3  # the header and 500 rows, 500, 200
    assert len(list(csv.reader(io.StringIO("".join(chunks), newline="")))) == 1201
