"""Twilio's webhooks, signed exactly as Twilio signs them, against real databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from scheduler.app import App, build
from scheduler.config import Settings
from scheduler.dispatch import Dispatcher
from scheduler.serialize import to_json
from scheduler.services import EnrolRequest
from scheduler.store.models import Appointment, Message, Patient, Reminder, Reply
from scheduler.store.uow import UnitOfWork
from scheduler.web import create_app
from tests.support import PUBLIC, FrozenClock, Signer, make_settings
from tests.support.fake_twilio import FakeTwilio

PHONE = "+12015550123"


def enrol(app: App, first: str = "2026-03-09 10:00", language: str = "en") -> dict[str, Any]:
    request = EnrolRequest(
        "Ana Lima", PHONE, "America/New_York", "iv-6x-mwf", first, "intake-form", language=language
    )
    detail: dict[str, Any] = to_json(app.clinic("test").enrol(request))
    return detail


def inbound(client: TestClient, sign: Signer, body: str, sid: str = "SM1", **extra: str) -> Any:
    form = {"From": PHONE, "To": "+12015550100", "Body": body, "MessageSid": sid, **extra}
    return client.post(
        "/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign("/twilio/inbound", form)}
    )


def status(client: TestClient, sign: Signer, message_id: int, sid: str, state: str, code: str = "") -> Any:
    path = f"/twilio/status?message_id={message_id}"
    form = {"MessageSid": sid, "MessageStatus": state, "To": PHONE}
    if code:
        form["ErrorCode"] = code
    return client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})


def reminder_rows(app: App, **where: Any) -> list[Reminder]:
    with UnitOfWork(app.database) as uow:
        query = select(Reminder).order_by(Reminder.id)
        for name, value in where.items():
            query = query.where(getattr(Reminder, name) == value)
        return list(uow.db.scalars(query))


def patient(app: App) -> Patient:
    with UnitOfWork(app.database) as uow:
        found = uow.db.scalars(select(Patient)).one()
        return found


def reply_count(app: App) -> int:
    with UnitOfWork(app.database) as uow:
        return uow.db.scalar(select(func.count()).select_from(Reply)) or 0


# -- signatures ---------------------------------------------------------------------------------


def test_a_good_signature_is_accepted(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    response = inbound(client, sign, "HELP")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "call or text 988" in response.text


@pytest.mark.parametrize("forgery", ["wrong", "missing", "other-url", "altered", "http-scheme"])
def test_a_forged_request_is_refused_and_changes_nothing(
    app: App, client: TestClient, sign: Signer, forgery: str
) -> None:
    enrol(app)
    form = {"From": PHONE, "To": "+12015550100", "Body": "STOP", "MessageSid": "SM1"}
    signature = {
        "wrong": "bm90IGEgc2lnbmF0dXJl",
        "missing": "",
        "other-url": sign("/twilio/status", form),
        "altered": sign("/twilio/inbound", {**form, "Body": "HELP"}),
        "http-scheme": "",
    }[forgery]
    if forgery == "http-scheme":
        token = app.settings.twilio_auth_token
        assert token is not None
        signature = RequestValidator(token).compute_signature("http://10.0.0.5:8000/twilio/inbound", form)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = client.post("/twilio/inbound", data=form, headers=headers)
    assert response.status_code == 403
    assert patient(app).opted_out_at is None
    assert reply_count(app) == 0


def test_a_forged_status_callback_changes_nothing(app: App, client: TestClient, sign: Signer) -> None:
    response = client.post(
        "/twilio/status?message_id=1",
        data={"MessageSid": "SM1", "MessageStatus": "delivered"},
        headers={"X-Twilio-Signature": sign("/twilio/status?message_id=2", {"MessageSid": "SM1"})},
    )
    assert response.status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(
    database_url: str, clock: FrozenClock, sign: Signer
) -> None:
    built = build(make_settings(database_url, public_base_url="https://reminders.example.org"), clock)
    with TestClient(create_app(built)) as client:
        form = {"From": PHONE, "Body": "HELP"}
        response = client.post(
            "/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign("/twilio/inbound", form)}
        )
    built.close()
    assert response.status_code == 403


# -- replies ------------------------------------------------------------------------------------


def test_stop_opts_out_at_once_and_nothing_more_is_attempted(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, fake_twilio: FakeTwilio,
    clock: FrozenClock,
) -> None:  # fmt: skip
    enrol(app)
    response = inbound(client, sign, "Stop")
    assert response.status_code == 200
    assert "<Message>" not in response.text  # Twilio itself confirms an opt-out
    assert patient(app).opted_out_at is not None
    assert not reminder_rows(app, status="pending")
    for _ in range(3):
        dispatcher.drain()
        clock.advance(timedelta(days=2))
    assert fake_twilio.attempts_to(PHONE) == 0


def test_start_brings_the_future_plan_back(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, fake_twilio: FakeTwilio,
    clock: FrozenClock,
) -> None:  # fmt: skip
    enrol(app)
    planned = {r.id for r in reminder_rows(app, status="pending")}
    inbound(client, sign, "STOP", sid="SM1")
    clock.advance(timedelta(hours=1))
    inbound(client, sign, "START", sid="SM2")
    assert patient(app).opted_out_at is None
    back = {r.id for r in reminder_rows(app, status="pending")}
    assert back
    assert back <= planned
    welcome = reminder_rows(app, kind="welcome")[0]
    assert welcome.status == "cancelled"  # it was due before the STOP: not sent late
    clock.set(datetime.fromisoformat("2026-03-06T15:00:00+00:00"))
    assert dispatcher.drain().sent == 1
    assert "Your visit is Mon, Mar 9" in fake_twilio.messages[0]["body"]


def test_a_spanish_speaking_patient_confirms_gets_help_and_opts_out_in_spanish(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, fake_twilio: FakeTwilio,
    clock: FrozenClock,
) -> None:  # fmt: skip
    detail = enrol(app, language="es")
    assert dispatcher.drain().sent == 1
    assert "Responda AYUDA para ayuda o PARAR" in fake_twilio.messages[0]["body"]

    confirmed = inbound(client, sign, "Sí", sid="SM1")
    assert "Gracias, su cita queda confirmada: 9 de marzo, 10 a.m." in confirmed.text
    with UnitOfWork(app.database) as uow:
        first = uow.db.get(Appointment, detail["appointments"][0]["id"])
        assert first is not None
        assert first.status == "confirmed"

    helped = inbound(client, sign, "AYUDA", sid="SM2")
    assert "Emergencias: 911. Apoyo en crisis: llame o escriba al 988." in helped.text

    stopped = inbound(client, sign, "PARAR", sid="SM3")
    # Twilio does not know PARAR: the service confirms the opt-out itself, in Spanish.
    assert "Listo, dejamos de enviarle mensajes" in stopped.text
    assert patient(app).opted_out_at is not None
    assert not reminder_rows(app, status="pending")
    before = len(fake_twilio.messages)
    for _ in range(6):
        clock.advance(timedelta(days=2))
        dispatcher.drain()
    assert len(fake_twilio.messages) == before
    assert "<Message>" not in inbound(client, sign, "hola?", sid="SM4").text  # opted out: silence


@pytest.mark.parametrize(("word", "answer"), [("HELP", "Crisis support"), ("AYUDA", "Apoyo en crisis")])
def test_help_is_answered_in_the_patients_language_whichever_word_they_use(
    app: App, client: TestClient, sign: Signer, word: str, answer: str
) -> None:
    enrol(app, language="es" if word == "AYUDA" else "en")
    assert answer in inbound(client, sign, word).text


def test_an_urgent_reply_in_spanish_gets_the_spanish_safety_answer(
    app: App, client: TestClient, sign: Signer
) -> None:
    enrol(app, language="es")
    answer = inbound(client, sign, "me falta el aire y me duele el pecho").text
    assert "Si corre peligro, llame ya al 911. Apoyo en crisis: llame o escriba al 988." in answer
    stranger = {"From": "+12015550999", "To": "+12015550100", "Body": "quiero morirme", "MessageSid": "SM9"}
    unknown = client.post(
        "/twilio/inbound", data=stranger, headers={"X-Twilio-Signature": sign("/twilio/inbound", stranger)}
    )
    assert "Si corre peligro" in unknown.text  # a number we do not know, answered in its own words


def test_opt_out_type_from_advanced_opt_out_is_honoured(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    inbound(client, sign, "ARRET", OptOutType="STOP")
    assert patient(app).opted_out_at is not None


def test_yes_opts_back_in_only_when_opted_out(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    response = inbound(client, sign, "YES", sid="SM1")
    assert "confirmed for Mon, Mar 9 at 10 AM" in response.text
    inbound(client, sign, "STOP", sid="SM2")
    inbound(client, sign, "yes", sid="SM3")
    assert patient(app).opted_out_at is None


def test_c_confirms_the_next_session_and_skips_its_confirm_text(
    app: App, client: TestClient, sign: Signer
) -> None:
    detail = enrol(app)
    first = detail["appointments"][0]["id"]
    response = inbound(client, sign, "c")
    assert "Thanks, you're confirmed for Mon, Mar 9 at 10 AM." in response.text
    with UnitOfWork(app.database) as uow:
        appointment = uow.db.get(Appointment, first)
        assert appointment is not None
        assert appointment.status == "confirmed"
    confirm = reminder_rows(app, appointment_id=first, kind="confirm")[0]
    assert (confirm.status, confirm.reason) == ("skipped", "already-confirmed")


def test_r_records_a_change_request_for_staff(app: App, client: TestClient, sign: Signer) -> None:
    detail = enrol(app)
    response = inbound(client, sign, "R")
    assert "Our team will contact you" in response.text
    with UnitOfWork(app.database) as uow:
        appointment = uow.db.get(Appointment, detail["appointments"][0]["id"])
        assert appointment is not None
        assert appointment.change_requested_at is not None
        reply = uow.db.scalars(select(Reply)).one()
        assert (reply.intent, reply.handled_at) == ("change", None)


def test_an_unrecognised_reply_gets_the_safe_answer_once_a_day_and_is_kept(
    app: App, client: TestClient, sign: Signer, clock: FrozenClock
) -> None:
    enrol(app)
    first = inbound(client, sign, "Can I bring my dog to the next one?", sid="SM1")
    assert "can't answer medical questions" in first.text
    assert "911" in first.text
    assert "988" in first.text
    second = inbound(client, sign, "hello?", sid="SM2")
    assert "<Message>" not in second.text
    clock.advance(timedelta(days=1))
    third = inbound(client, sign, "hello again", sid="SM3")
    assert "can't answer medical questions" in third.text
    with UnitOfWork(app.database) as uow:
        kept = [(r.body, r.intent, r.handled_at) for r in uow.db.scalars(select(Reply).order_by(Reply.id))]
    assert kept[0] == ("Can I bring my dog to the next one?", "other", None)
    assert len(kept) == 3


def test_help_is_answered_unless_twilio_answers_it(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    assert "Reply STOP to opt out" in inbound(client, sign, "help", sid="SM1").text
    app.settings = replace(app.settings, twilio_advanced_opt_out=True)
    with TestClient(create_app(app)) as other:
        form = {"From": PHONE, "Body": "HELP", "MessageSid": "SM2"}
        response = other.post(
            "/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign("/twilio/inbound", form)}
        )
    assert "<Message>" not in response.text


def test_an_unknown_number_gets_no_answer_and_its_text_is_kept_for_staff(
    app: App, client: TestClient, sign: Signer
) -> None:
    form = {"From": "+12015559999", "Body": "C", "MessageSid": "SM1"}
    response = client.post(
        "/twilio/inbound", data=form, headers={"X-Twilio-Signature": sign("/twilio/inbound", form)}
    )
    assert response.status_code == 200
    assert "<Message>" not in response.text
    with UnitOfWork(app.database) as uow:
        kept = uow.db.scalars(select(Reply)).one()
        assert (kept.patient_id, kept.body, kept.auto_reply) == (None, "C", None)


def test_an_opted_out_patient_gets_no_automatic_answer(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    inbound(client, sign, "STOP", sid="SM1")
    response = inbound(client, sign, "why did you stop?", sid="SM2")
    assert "<Message>" not in response.text


def test_a_webhook_retried_by_twilio_acts_once(app: App, client: TestClient, sign: Signer) -> None:
    enrol(app)
    first = inbound(client, sign, "R", sid="SM1")
    again = inbound(client, sign, "R", sid="SM1")
    assert first.text == again.text
    assert reply_count(app) == 1


# -- delivery status ----------------------------------------------------------------------------


def sent_welcome(app: App, dispatcher: Dispatcher) -> Message:
    enrol(app)
    dispatcher.drain()
    with UnitOfWork(app.database) as uow:
        return uow.db.scalars(select(Message)).one()


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["sent", "delivered"], "delivered"),
        (["delivered", "sent"], "delivered"),
        (["sent", "delivered", "delivered", "sent", "queued"], "delivered"),
        (["sent", "sent"], "sent"),
        (["undelivered", "sent"], "failed"),
    ],
    ids=["in-order", "out-of-order", "repeated-and-late", "twice", "failure-stays"],
)
def test_callbacks_twice_and_out_of_order_end_in_the_right_status(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, sequence: list[str], final: str
) -> None:
    message = sent_welcome(app, dispatcher)
    assert message.provider_sid is not None
    for state in sequence:
        code = "30006" if state == "undelivered" else ""
        assert status(client, sign, message.id, message.provider_sid, state, code).status_code == 204
    reminder = reminder_rows(app, kind="welcome")[0]
    assert reminder.status == final
    with UnitOfWork(app.database) as uow:
        stored = uow.db.get(Message, message.id)
        assert stored is not None
        assert stored.status == (sequence[0] if final == "failed" else final)


def test_a_callback_settles_a_send_whose_response_was_lost(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script(PHONE, delay=1.5, created=True, times=1)
    enrol(app)
    assert dispatcher.drain().unknown == 1
    with UnitOfWork(app.database) as uow:
        message = uow.db.scalars(select(Message)).one()
    assert message.provider_sid is None
    sid = fake_twilio.messages[0]["sid"]
    assert status(client, sign, message.id, sid, "delivered").status_code == 204
    reminder = reminder_rows(app, kind="welcome")[0]
    assert (reminder.status, reminder.provider_sid) == ("delivered", sid)


@pytest.mark.parametrize(
    ("code", "reminder_status", "reason", "flagged"),
    [
        ("30003", "pending", "delivery-retry", False),
        ("30005", "failed", "phone-invalid", True),
        ("30007", "failed", "needs-review", False),
        ("30036", "expired", "provider-expired", False),
    ],
    ids=["unreachable-retried", "unknown-handset-flagged", "carrier-filtered", "validity-expired"],
)
def test_asynchronous_errors_follow_the_classification(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher,
    code: str, reminder_status: str, reason: str, flagged: bool,
) -> None:  # fmt: skip
    message = sent_welcome(app, dispatcher)
    assert message.provider_sid is not None
    status(client, sign, message.id, message.provider_sid, "undelivered", code)
    reminder = reminder_rows(app, kind="welcome")[0]
    assert (reminder.status, reminder.reason, reminder.error_code) == (reminder_status, reason, int(code))
    assert (patient(app).phone_invalid_at is not None) == flagged


def test_a_transient_failure_is_retried_a_bounded_number_of_times(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, clock: FrozenClock,
    fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    sent_welcome(app, dispatcher)
    for _ in range(3):
        with UnitOfWork(app.database) as uow:
            message = uow.db.scalars(select(Message).order_by(Message.id.desc())).first()
        assert message is not None
        assert message.provider_sid is not None
        status(client, sign, message.id, message.provider_sid, "undelivered", "30003")
        clock.advance(timedelta(minutes=31))
        dispatcher.drain()
    reminder = reminder_rows(app, kind="welcome")[0]
    assert (reminder.status, reminder.reason) == ("failed", "undelivered")
    assert len(fake_twilio.messages) == 3


def test_a_status_for_a_message_we_do_not_know_is_accepted_and_ignored(
    client: TestClient, sign: Signer
) -> None:
    assert status(client, sign, 999, "SMunknown", "delivered").status_code == 204


def message_rows(app: App) -> list[tuple[int, str | None, str, int | None]]:
    with UnitOfWork(app.database) as uow:
        rows = uow.db.scalars(select(Message).order_by(Message.id))
        return [(m.id, m.provider_sid, m.status, m.error_code) for m in rows]


def test_a_report_whose_message_sid_is_not_the_messages_changes_nothing(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher
) -> None:
    message = sent_welcome(app, dispatcher)
    before = (message_rows(app), [(r.id, r.status, r.reason) for r in reminder_rows(app)])
    # Signed (so it passed the signature check) but for a sid that is not this message's.
    answer = status(client, sign, message.id, "SM" + "f" * 32, "undelivered", "30005")
    assert answer.status_code == 204
    assert (message_rows(app), [(r.id, r.status, r.reason) for r in reminder_rows(app)]) == before
    assert patient(app).phone_invalid_at is None


def test_a_report_carrying_another_messages_sid_is_answered_and_changes_nothing(
    app: App, client: TestClient, sign: Signer, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    first = sent_welcome(app, dispatcher)
    # A second message whose create response was lost: no sid stored yet.
    fake_twilio.script("+12015550199", delay=1.5, created=True, times=1)
    request = EnrolRequest(
        "Bo Chen", "+12015550199", "America/New_York", "iv-6x-mwf", "2026-03-09 11:00", "form"
    )
    app.clinic("test").enrol(request)
    assert dispatcher.drain().unknown == 1
    lost = next(row for row in message_rows(app) if row[1] is None)
    before = message_rows(app)
    answer = status(client, sign, lost[0], str(first.provider_sid), "delivered")
    assert answer.status_code == 204
    assert message_rows(app) == before


def test_health_warns_when_a_public_service_only_prints_its_texts(client: TestClient) -> None:
    # This service is public (https) but its texts go to the console: said on every health check.
    body = client.get("/healthz/web").json()
    assert body["warnings"] == ["SMS_BACKEND=console: texts are printed, not sent"]


def test_health_has_no_warning_when_texts_really_go_out(app: App, fake_twilio: FakeTwilio) -> None:
    sending = replace(app.settings, sms_backend="twilio", twilio_from_number="+12015550100")
    with TestClient(create_app(replace(app, settings=sending)), base_url="http://10.0.0.5:8000") as client:
        assert "warnings" not in client.get("/healthz/web").json()


def test_a_clinic_in_the_uk_gives_uk_emergency_and_crisis_lines(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio, sign: Signer
) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "SMS_BACKEND": "console",
            "CLINIC_PHONE": "+44 20 7183 8750",
            "PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
            "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        }
    )
    built = build(settings, clock)
    try:
        request = EnrolRequest(
            "Ana Lima", "+447911123456", "Europe/London", "iv-6x-mwf", "2026-03-09 10:00", "form"
        )
        built.clinic("test").enrol(request)
        with TestClient(create_app(built), base_url="http://10.0.0.5:8000") as uk:
            answers = []
            for sid, body in (
                ("SM1", "HELP"),
                ("SM2", "what time is parking open"),
                ("SM3", "I want to die"),
            ):
                form = {"From": "+447911123456", "Body": body, "MessageSid": sid}
                signature = sign("/twilio/inbound", form)
                answers.append(
                    uk.post("/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature}).text
                )
    finally:
        built.close()
    for answer in answers:
        assert "999" in answer
        assert "Samaritans 116 123" in answer
        assert "911" not in answer
        assert "988" not in answer
