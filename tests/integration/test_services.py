"""Every clinic operation against real databases: SQLite and PostgreSQL run the same tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from scheduler.app import App, build
from scheduler.domain.states import Reason
from scheduler.errors import Conflict, InvalidInput, NotFound, SchemaOutOfDate
from scheduler.serialize import to_json as as_json
from scheduler.services import Clinic, EnrolRequest
from scheduler.services.planning import Planner
from scheduler.store.db import make_engine
from scheduler.store.models import Appointment, AuditEntry, Patient, Reminder
from scheduler.store.uow import UnitOfWork
from tests.support import FrozenClock, make_settings

# The clock fixture stands at Tue 2026-03-03 09:00 in New York.
FIRST = "2026-03-09 10:00"  # a Monday


def request(**changes: Any) -> EnrolRequest:
    fields: dict[str, Any] = {
        "name": "Ana Lima",
        "phone": "(201) 555-0123",
        "timezone": "America/New_York",
        "protocol": "iv-6x-mwf",
        "first": FIRST,
        "consent": "intake-form",
    }
    fields.update(changes)
    return EnrolRequest(**fields)


@pytest.fixture
def clinic(app: App) -> Clinic:
    return app.clinic("test:staff")


def counts(app: App) -> dict[str, int]:
    with UnitOfWork(app.database) as uow:
        return {
            model.__tablename__: uow.db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Patient, Appointment, Reminder, AuditEntry)
        }


def local_days(detail: dict[str, Any], kind: str | None = None) -> list[str]:
    return [
        a["local_start"][:16]
        for a in detail["appointments"]
        if (kind is None or a["kind"] == kind) and a["status"] != "cancelled"
    ]


def reminders_of(detail: dict[str, Any], appointment_id: int) -> list[dict[str, Any]]:
    return [r for r in detail["reminders"] if r["appointment_id"] == appointment_id]


def test_enrol_plans_the_whole_course(clinic: Clinic, app: App) -> None:
    detail = as_json(clinic.enrol(request()))
    patient = detail["patient"]
    assert patient["phone"] == "+12015550123"
    assert patient["touch_up_interval_days"] == 28
    assert local_days(detail) == [
        "2026-03-09T10:00",
        "2026-03-11T10:00",
        "2026-03-13T10:00",
        "2026-03-16T10:00",
        "2026-03-18T10:00",
        "2026-03-20T10:00",
        "2026-04-17T10:00",  # touch-up: 28 days after the last induction session
    ]
    assert [a["kind"] for a in detail["appointments"]] == ["induction"] * 6 + ["touch-up"]
    kinds = {r["kind"] for r in detail["reminders"]}
    assert kinds == {"welcome", "confirm", "prep", "day-of", "check-in"}
    assert all(r["status"] in ("pending", "skipped") for r in detail["reminders"])
    welcome = next(r for r in detail["reminders"] if r["kind"] == "welcome")
    assert welcome["due_at"] == "2026-03-03T14:00:00+00:00"
    with UnitOfWork(app.database) as uow:
        audit = uow.db.scalars(select(AuditEntry)).one()
        assert (audit.actor, audit.action, audit.patient_id) == ("test:staff", "enrol", patient["id"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "+44 20 7183 8750"}, "phone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"protocol": "iv-99x"}, "protocol"),
        ({"first": "2026-03-02 10:00"}, "first"),
        ({"first": "next monday"}, "first"),
        ({"first": "2026-02-30 10:00"}, "first"),
        ({"consent": "  "}, "consent"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"interval_days": 5}, "interval"),
    ],
    ids=[
        "short-phone", "landline", "timezone", "protocol", "past", "not-a-time",
        "no-such-day", "consent", "empty-name", "long-name", "interval",
    ],
)  # fmt: skip
def test_bad_enrolment_is_refused_and_writes_nothing(
    clinic: Clinic, app: App, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        clinic.enrol(request(**changes))
    assert info.value.field == field
    assert counts(app) == {"patients": 0, "appointments": 0, "reminders": 0, "audit_log": 0}


def test_one_patient_in_care_per_number(clinic: Clinic, app: App) -> None:
    first = as_json(clinic.enrol(request()))
    before = counts(app)
    with pytest.raises(Conflict, match="already has this phone number"):
        clinic.enrol(request(name="Someone Else", phone="+12015550123"))
    assert counts(app) == before
    clinic.discharge(first["patient"]["id"])
    again = as_json(clinic.enrol(request(name="Ana Lima")))
    assert again["patient"]["id"] != first["patient"]["id"]


def test_the_database_itself_refuses_two_patients_in_care_with_one_number(clinic: Clinic, app: App) -> None:
    clinic.enrol(request())
    other = as_json(clinic.enrol(request(phone="+12015550124")))
    same_number = update(Patient).where(Patient.id == other["patient"]["id"]).values(phone="+12015550123")

    def write() -> None:
        with UnitOfWork(app.database) as uow:
            uow.db.execute(same_number)
            uow.commit()

    with pytest.raises(IntegrityError):
        write()


def test_names_are_stored_exactly_as_given(clinic: Clinic) -> None:
    name = 'Zoë "Zee" O\'Brien-Ñúñez 🌻 <b>'
    detail = as_json(clinic.enrol(request(name=name)))
    assert as_json(clinic.show(detail["patient"]["id"]))["patient"]["name"] == name


def test_replanning_twice_inserts_nothing(clinic: Clinic, app: App, clock: FrozenClock) -> None:
    detail = as_json(clinic.enrol(request()))
    before = counts(app)
    with UnitOfWork(app.database) as uow:
        patient = uow.db.get(Patient, detail["patient"]["id"])
        assert patient is not None
        planner = Planner(app.settings, app.protocols)
        planner.replan(uow.db, patient, clock.now(), Reason.REPLANNED)
        planner.replan(uow.db, patient, clock.now(), Reason.REPLANNED)
        uow.commit()
    assert counts(app) == before
    assert as_json(clinic.show(detail["patient"]["id"]))["reminders"] == detail["reminders"]


def test_reschedule_cancels_the_old_texts_and_plans_new_ones(clinic: Clinic) -> None:
    detail = as_json(clinic.enrol(request()))
    second = detail["appointments"][1]
    old = {r["id"] for r in reminders_of(detail, second["id"]) if r["status"] == "pending"}
    after = as_json(clinic.reschedule(second["id"], "2026-03-12 15:30"))
    moved = next(a for a in after["appointments"] if a["id"] == second["id"])
    assert moved["local_start"].startswith("2026-03-12T15:30")
    rows = reminders_of(after, second["id"])
    assert {(r["status"], r["reason"]) for r in rows if r["id"] in old} == {("cancelled", "rescheduled")}
    new_pending = [r for r in rows if r["id"] not in old and r["status"] == "pending"]
    assert {r["kind"]: r["due_at"] for r in new_pending} == {
        "notice": "2026-03-03T14:00:00+00:00",  # the new time, told at once
        # 72 h before is 15:30 EDT on the day of session 1: it shares that day's 09:00 message.
        "confirm": "2026-03-09T13:00:00+00:00",
        "prep": "2026-03-11T19:30:00+00:00",
    }


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2026-03-01 10:00", "in the past"),
        ("2026-03-13 12:00", "already has a session"),
        ("13/03/2026", "not a time"),
    ],
    ids=["past", "same-day-as-another", "format"],
)
def test_bad_reschedule_changes_nothing(clinic: Clinic, app: App, when: str, message: str) -> None:
    detail = as_json(clinic.enrol(request()))
    before = as_json(clinic.show(detail["patient"]["id"]))
    with pytest.raises(InvalidInput, match=message):
        clinic.reschedule(detail["appointments"][1]["id"], when)
    assert as_json(clinic.show(detail["patient"]["id"])) == before


def test_unknown_ids_are_reported(clinic: Clinic) -> None:
    with pytest.raises(NotFound, match="no appointment with id 999"):
        clinic.cancel(999)
    with pytest.raises(NotFound, match="no patient with id 999"):
        clinic.pause(999)


def test_cancel_a_session_cancels_its_texts(clinic: Clinic) -> None:
    detail = as_json(clinic.enrol(request()))
    third = detail["appointments"][2]
    after = as_json(clinic.cancel(third["id"]))
    assert next(a for a in after["appointments"] if a["id"] == third["id"])["status"] == "cancelled"
    statuses = {(r["kind"], r["status"], r["reason"]) for r in reminders_of(after, third["id"])}
    assert {(kind, status, reason) for kind, status, reason in statuses if kind != "notice"} == {
        ("confirm", "cancelled", "appointment-cancelled"),
        ("prep", "cancelled", "appointment-cancelled"),
    }
    # The patient is told, as soon as the window allows.
    assert ("notice", "pending", None) in statuses


def test_cancelling_the_upcoming_touch_up_books_the_next_one_an_interval_later(
    clinic: Clinic,
) -> None:
    detail = as_json(clinic.enrol(request()))
    touch_up = detail["appointments"][-1]
    after = as_json(clinic.cancel(touch_up["id"]))
    assert local_days(after, "touch-up") == ["2026-05-15T10:00"]  # 2026-04-17 + 28 days


def test_an_attended_touch_up_books_the_next(clinic: Clinic, clock: FrozenClock) -> None:
    detail = as_json(clinic.enrol(request(protocol="touch-up-only")))
    first = detail["appointments"][0]
    # The first session is the one upcoming touch-up.
    assert local_days(detail) == ["2026-03-09T10:00"]
    clock.set(datetime.fromisoformat("2026-03-09T16:00:00+00:00"))
    after = as_json(clinic.outcome(first["id"], "attended"))
    assert local_days(after) == ["2026-03-09T10:00", "2026-04-06T10:00"]
    second = after["appointments"][1]
    clock.set(datetime.fromisoformat("2026-04-06T16:00:00+00:00"))
    after = as_json(clinic.outcome(second["id"], "attended"))
    assert local_days(after, "touch-up")[-1] == "2026-05-04T10:00"
    assert len(local_days(after)) == 3


def test_a_missed_session_stops_automatic_planning_until_staff_act(
    clinic: Clinic, clock: FrozenClock
) -> None:
    detail = as_json(clinic.enrol(request(protocol="iv-6x-2w")))
    patient_id = detail["patient"]["id"]
    first, touch_up = detail["appointments"][0], detail["appointments"][-1]
    clock.set(datetime.fromisoformat("2026-03-09T16:00:00+00:00"))
    after = as_json(clinic.outcome(first["id"], "missed"))
    assert after["patient"]["attention"] == "missed-session"
    assert [p["id"] for p in as_json(clinic.patients("attention"))] == [patient_id]
    check_in = next(r for r in reminders_of(after, first["id"]) if r["kind"] == "check-in")
    assert (check_in["status"], check_in["reason"]) == ("cancelled", "session-missed")
    # The next touch-up stays booked; cancelling it books nothing new while on hold.
    after = as_json(clinic.cancel(touch_up["id"]))
    assert local_days(after, "touch-up") == []
    after = as_json(clinic.reschedule(first["id"], "2026-03-11 10:00"))
    assert after["patient"]["attention"] is None
    assert as_json(clinic.patients("attention")) == []


def test_outcome_needs_a_session_that_has_started(clinic: Clinic) -> None:
    detail = as_json(clinic.enrol(request()))
    with pytest.raises(InvalidInput, match="not started"):
        clinic.outcome(detail["appointments"][0]["id"], "attended")


def test_pause_cancels_pending_texts_and_resume_brings_the_future_ones_back(
    clinic: Clinic, clock: FrozenClock
) -> None:
    detail = as_json(clinic.enrol(request()))
    patient_id = detail["patient"]["id"]
    paused = as_json(clinic.pause(patient_id))
    assert paused["patient"]["status"] == "paused"
    assert {r["status"] for r in paused["reminders"]} <= {"cancelled", "skipped"}
    assert {r["reason"] for r in paused["reminders"] if r["status"] == "cancelled"} == {"paused"}
    clock.advance(timedelta(days=3))  # now Fri 2026-03-06 09:00
    resumed = as_json(clinic.resume(patient_id))
    pending = [r for r in resumed["reminders"] if r["status"] == "pending"]
    assert pending
    assert min(r["due_at"] for r in pending) >= clock.now().isoformat()
    assert len(resumed["reminders"]) == len(detail["reminders"])


def test_discharge_cancels_future_sessions_and_texts(clinic: Clinic) -> None:
    detail = as_json(clinic.enrol(request()))
    after = as_json(clinic.discharge(detail["patient"]["id"]))
    assert {a["status"] for a in after["appointments"]} == {"cancelled"}
    assert {r["status"] for r in after["reminders"]} <= {"cancelled", "skipped"}
    with pytest.raises(InvalidInput, match="discharged"):
        clinic.resume(detail["patient"]["id"])


def test_an_interval_change_moves_only_the_upcoming_touch_up(
    clinic: Clinic, app: App, clock: FrozenClock
) -> None:
    detail = as_json(clinic.enrol(request()))
    patient_id = detail["patient"]["id"]
    # Pretend the course ran: induction over, the prep for session 1 went out.
    with UnitOfWork(app.database) as uow:
        uow.db.execute(
            update(Reminder)
            .where(Reminder.patient_id == patient_id, Reminder.kind == "prep")
            .where(Reminder.appointment_id == detail["appointments"][0]["id"])
            .values(status="sent")
        )
        uow.commit()
    clock.set(datetime.fromisoformat("2026-03-25T14:00:00+00:00"))
    after = as_json(clinic.set_interval(patient_id, 42))
    assert after["patient"]["touch_up_interval_days"] == 42
    assert local_days(after, "induction") == local_days(detail, "induction")
    assert local_days(after, "touch-up") == ["2026-05-01T10:00"]  # Fri 03-20 + 42 days
    sent = [r for r in after["reminders"] if r["status"] == "sent"]
    assert len(sent) == 1
    touch_up_id = after["appointments"][-1]["id"]
    assert {r["reason"] for r in reminders_of(after, touch_up_id) if r["status"] == "cancelled"} == {
        "interval-changed"
    }


def test_a_shorter_interval_never_books_a_touch_up_in_the_past(clinic: Clinic, clock: FrozenClock) -> None:
    detail = as_json(clinic.enrol(request(interval_days=84)))
    clock.set(datetime.fromisoformat("2026-05-05T14:00:00+00:00"))  # 46 days after the last
    after = as_json(clinic.set_interval(detail["patient"]["id"], 21))
    assert local_days(after, "touch-up") == ["2026-05-06T10:00"]


def test_an_interval_outside_the_protocol_limits_is_refused(clinic: Clinic) -> None:
    detail = as_json(clinic.enrol(request()))
    before = as_json(clinic.show(detail["patient"]["id"]))
    with pytest.raises(InvalidInput, match="between 21 and 84"):
        clinic.set_interval(detail["patient"]["id"], 90)
    assert as_json(clinic.show(detail["patient"]["id"])) == before


def test_csv_import_is_all_or_nothing(clinic: Clinic, app: App) -> None:
    good = "+12015550131", "+12015550132"
    text = (
        "name,phone,timezone,protocol,first,consent\n"
        f"A One,{good[0]},America/New_York,iv-6x-mwf,{FIRST},form\n"
        "B Two,12345,America/New_York,iv-6x-mwf,2026-03-10 10:00,form\n"
        f"C Three,{good[1]},Europe/London,esk-trd,2026-03-10 10:00,form\n"
        f"D Four,{good[0]},America/New_York,iv-6x-mwf,{FIRST},form\n"
    )
    report = clinic.import_csv(text)
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "the phone number is not a valid number"),
        (5, "same phone number as line 2"),
    ]
    assert counts(app)["patients"] == 0
    fixed = "\n".join(text.splitlines()[:2] + text.splitlines()[3:4]) + "\n"
    assert clinic.import_csv(fixed, dry_run=True).ok
    assert counts(app)["patients"] == 0
    report = clinic.import_csv(fixed)
    assert report.ok
    assert len(report.patient_ids) == 2


def test_csv_import_takes_an_optional_language_column(clinic: Clinic, app: App) -> None:
    text = (
        "name,phone,timezone,protocol,first,consent,language\n"
        f"A One,+12015550131,America/New_York,iv-6x-mwf,{FIRST},form,es\n"
        f"B Two,+12015550132,America/New_York,iv-6x-mwf,{FIRST},form,\n"
        f"C Three,+12015550133,America/New_York,iv-6x-mwf,{FIRST},form,fr\n"
    )
    report = clinic.import_csv(text)
    assert [(e.line, e.message) for e in report.errors] == [(4, "language must be en or es")]
    report = clinic.import_csv("\n".join(text.splitlines()[:3]) + "\n")
    assert report.ok
    assert [clinic.show(i).patient.language for i in report.patient_ids] == ["es", "en"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("  \n\n", "the file is empty"),
        ("name,phone,timezone,protocol,first,consent\n", "the file has a header line but no patients"),
        ("nombre;telefono\nAna;2015550123\n", "missing column(s): name, phone, timezone, first, consent"),
        ("name phone timezone\nAna\n", "separate the columns with commas or semicolons"),
    ],
    ids=["empty", "blank-lines", "header-only", "other-columns", "one-column"],
)
def test_a_csv_file_that_cannot_be_imported_says_why(
    clinic: Clinic, app: App, text: str, problem: str
) -> None:
    report = clinic.import_csv(text)
    assert not report.ok
    assert problem in str(report.problem)
    assert report.errors == []
    assert counts(app)["patients"] == 0


def test_csv_import_reads_a_spreadsheets_semicolons_and_byte_order_mark(clinic: Clinic, app: App) -> None:
    text = (
        "\ufeffName;Phone;Timezone;Protocol;First;Consent;External ID\n"
        f"A One;(201) 555-0131;America/New_York;;{FIRST};form;MRN-1\n"
        ";;;;;;\n"  # a row of empty cells a spreadsheet left behind
        f"B Two;(201) 555-0132;America/New_York;esk-trd;{FIRST};form;MRN-2\n"
    )
    report = clinic.import_csv(text)
    assert report.ok, report
    shown = [clinic.show(i).patient for i in report.patient_ids]
    assert [(p.protocol, p.external_id) for p in shown] == [("iv-6x-mwf", "MRN-1"), ("esk-trd", "MRN-2")]


def test_csv_import_checks_record_numbers_in_the_file_and_in_the_database(clinic: Clinic, app: App) -> None:
    clinic.enrol(request(external_id="MRN-7"))
    text = (
        "name,phone,timezone,protocol,first,consent,external_id\n"
        f"A One,+12015550131,America/New_York,iv-6x-mwf,{FIRST},form,MRN-1\n"
        f"B Two,+12015550132,America/New_York,iv-6x-mwf,{FIRST},form,MRN-1\n"
        f"C Three,+12015550133,America/New_York,iv-6x-mwf,{FIRST},form,MRN-7\n"
        f"D Four,+12015550134,America/New_York,iv-6x-mwf,{FIRST},form\n"
    )
    report = clinic.import_csv(text)
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "same record number as line 2"),
        (4, "another patient already has this record number"),
        (5, "expected 7 columns, found 6"),
    ]
    assert counts(app)["patients"] == 1


def test_a_record_number_belongs_to_one_patient(clinic: Clinic) -> None:
    first = clinic.enrol(request(external_id=" MRN-7 "))
    assert first.patient.external_id == "MRN-7"
    with pytest.raises(
        Conflict, match=f"another patient has this record number \\(patient {first.patient.id}\\)"
    ) as info:
        clinic.enrol(request(phone="(201) 555-0124", external_id="MRN-7"))
    assert info.value.existing == first.patient.id
    assert clinic.enrol(request(phone="(201) 555-0125")).patient.external_id is None
    with pytest.raises(InvalidInput, match="record number must be at most 64"):
        clinic.enrol(request(phone="(201) 555-0126", external_id="x" * 65))


def test_csv_import_checks_numbers_already_in_care(clinic: Clinic, app: App) -> None:
    clinic.enrol(request())
    text = f"name,phone,timezone,protocol,first,consent\nX,+12015550123,UTC,iv-6x-mwf,{FIRST},f\n"
    report = clinic.import_csv(text)
    assert [(e.line, e.message) for e in report.errors] == [
        (2, "a patient in care already has this phone number")
    ]
    assert counts(app)["patients"] == 1


def test_a_database_without_the_schema_is_refused(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(url).dispose()
    with pytest.raises(SchemaOutOfDate, match="reminders db upgrade"):
        build(make_settings(url))


def test_instants_come_back_aware_in_utc(clinic: Clinic, app: App) -> None:
    clinic.enrol(request())
    with UnitOfWork(app.database) as uow:
        appointment = uow.db.scalars(select(Appointment).order_by(Appointment.id)).first()
        assert appointment is not None
        assert appointment.starts_at.utcoffset() == timedelta(0)
        assert appointment.starts_at.date() == date(2026, 3, 9)


def test_a_welcome_not_yet_sent_comes_back_after_pause_and_resume(clinic: Clinic, clock: FrozenClock) -> None:
    clock.set(datetime.fromisoformat("2026-03-03T03:00:00+00:00"))  # 22:00 in New York
    detail = as_json(clinic.enrol(request()))
    patient_id = detail["patient"]["id"]
    clinic.pause(patient_id)
    clock.advance(timedelta(hours=1))
    resumed = as_json(clinic.resume(patient_id))
    welcome = next(r for r in resumed["reminders"] if r["kind"] == "welcome")
    assert (welcome["status"], welcome["due_at"]) == ("pending", "2026-03-03T14:00:00+00:00")


def test_the_schema_revision_the_code_expects_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from scheduler.store.db import SCHEMA_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads() == [SCHEMA_REVISION]


def test_a_schema_newer_than_the_code_is_refused_saying_how_to_roll_back(tmp_path: Path) -> None:
    from sqlalchemy import text

    from scheduler.errors import SchemaOutOfDate
    from scheduler.store.db import SCHEMA_REVISION, check_schema, make_engine, upgrade

    # A database of its own: the shared test databases must keep their revision.
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaOutOfDate, match=f"newer than this version.*db downgrade {SCHEMA_REVISION}"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_the_daily_job_books_a_touch_up_only_where_none_is_upcoming(
    clinic: Clinic, app: App, clock: FrozenClock
) -> None:
    detail = as_json(clinic.enrol(request()))
    as_json(clinic.enrol(request(phone="+12015550124", protocol="esk-mdsi")))  # no touch-ups at all
    assert clinic.extend_plans() == 0
    # The touch-up passed and nobody recorded it: the course rolls on from it.
    clock.set(datetime.fromisoformat("2026-04-20T14:00:00+00:00"))
    assert clinic.extend_plans() == 1
    after = as_json(clinic.show(detail["patient"]["id"]))
    assert local_days(after, "touch-up") == ["2026-04-17T10:00", "2026-05-15T10:00"]
    assert clinic.extend_plans() == 0


def test_a_new_number_clears_the_invalid_flag_and_brings_texts_back(clinic: Clinic, app: App) -> None:
    detail = as_json(clinic.enrol(request()))
    patient_id = detail["patient"]["id"]
    with UnitOfWork(app.database) as uow:
        patient = uow.db.get(Patient, patient_id)
        assert patient is not None
        patient.phone_invalid_at = patient.created_at
        Planner(app.settings, app.protocols).replan(uow.db, patient, patient.created_at, Reason.PHONE_INVALID)
        uow.commit()
    flagged = as_json(clinic.show(patient_id))
    assert not [r for r in flagged["reminders"] if r["status"] == "pending" and r["kind"] != "welcome"]
    other = as_json(clinic.enrol(request(phone="+12015550124")))
    with pytest.raises(Conflict):
        clinic.change_phone(patient_id, "+12015550124")
    with pytest.raises(InvalidInput, match="not a valid number"):
        clinic.change_phone(patient_id, "12345")
    after = as_json(clinic.change_phone(patient_id, "(201) 555-0199"))
    assert after["patient"]["phone"] == "+12015550199"
    assert after["patient"]["phone_invalid"] is False
    assert len([r for r in after["reminders"] if r["status"] == "pending"]) >= 5
    assert other["patient"]["phone"] == "+12015550124"
