"""The Twilio sender, driving the real twilio-python against the fake Twilio on loopback."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.sms import Failure, SmsSender, SmsSendError, TwilioSender
from tests.support import SenderFactory
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import (
    BODY,
    CALLBACK,
    CLIENT_TIMEOUT,
    FROM_NUMBER,
    OTHER_PATIENT,
    PATIENT,
    PATIENT_DIGITS,
    SERVICE_SID,
    sms,
)


def send_failure(sender: TwilioSender, to: str = PATIENT) -> SmsSendError:
    with pytest.raises(SmsSendError) as caught:
        sender.send(sms(to))
    return caught.value


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def a_minute_ago() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def test_it_posts_to_from_body_callback_and_validity_with_basic_auth(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    receipt = sender.send(sms(status_callback=CALLBACK, validity_period_seconds=3600))

    [attempt] = fake_twilio.attempts
    assert attempt.form == {
        "To": PATIENT,
        "From": FROM_NUMBER,
        "Body": BODY,
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "3600",
    }
    assert attempt.username == fake_twilio.account_sid  # set only when the token matched too
    assert attempt.http_status == 201
    assert receipt.provider_sid == fake_twilio.messages[0]["sid"]
    assert receipt.status == "queued"


def test_it_leaves_out_status_callback_and_validity_period_when_not_given(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    sender.send(sms())

    assert set(fake_twilio.attempts[0].form) == {"To", "From", "Body"}


def test_it_sends_through_a_messaging_service_without_a_from_number(
    fake_twilio: FakeTwilio, make_sender: SenderFactory
) -> None:
    receipt = make_sender(messaging_service_sid=SERVICE_SID).send(sms())

    assert fake_twilio.attempts[0].form == {"To": PATIENT, "MessagingServiceSid": SERVICE_SID, "Body": BODY}
    assert receipt.status == "accepted"


def test_it_accepts_twilios_longest_validity_period(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    sender.send(sms(validity_period_seconds=36000))

    assert fake_twilio.attempts[0].form["ValidityPeriod"] == "36000"


def test_it_is_an_sms_sender(sender: TwilioSender) -> None:
    as_port: SmsSender = sender
    assert as_port.name == "twilio"


def test_bad_credentials_mean_config(fake_twilio: FakeTwilio, make_sender: SenderFactory) -> None:
    error = send_failure(make_sender(auth_token="not-the-token"))

    assert (error.failure, error.code, error.http_status) == (Failure.CONFIG, 20003, 401)
    assert fake_twilio.messages == []


def test_21610_means_opted_out(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    fake_twilio.script(PATIENT, code=21610)

    error = send_failure(sender)

    assert (error.failure, error.code, error.http_status) == (Failure.OPTED_OUT, 21610, 400)
    assert not error.retryable


def test_21211_means_invalid_number(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    fake_twilio.script(PATIENT, code=21211)

    assert send_failure(sender).failure is Failure.INVALID_NUMBER


@pytest.mark.parametrize(
    "script",
    [{"code": 20429, "status": 429}, {"status": 429, "html": True}],
    ids=["twilio-20429", "bare-429"],
)
def test_429_means_retry(fake_twilio: FakeTwilio, sender: TwilioSender, script: dict[str, Any]) -> None:
    fake_twilio.script(PATIENT, **script)

    error = send_failure(sender)

    assert error.failure is Failure.RETRY
    assert error.retryable
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    "script",
    [{"status": 500}, {"status": 503, "html": True}, {"status": 500, "created": True}],
    ids=["json-500", "html-503", "500-after-creating"],
)
def test_a_5xx_means_unknown(fake_twilio: FakeTwilio, sender: TwilioSender, script: dict[str, Any]) -> None:
    fake_twilio.script(PATIENT, **script)

    error = send_failure(sender)

    assert error.failure is Failure.UNKNOWN
    assert error.http_status == script["status"]


def test_an_unknown_code_means_review(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    fake_twilio.script(PATIENT, code=21999)

    assert send_failure(sender).failure is Failure.REVIEW


def test_a_reply_slower_than_the_timeout_is_unknown_though_twilio_created_the_message(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    fake_twilio.script(PATIENT, delay=1.0)
    started = time.monotonic()

    error = send_failure(sender)

    assert error.failure is Failure.UNKNOWN
    assert time.monotonic() - started < CLIENT_TIMEOUT + 0.5
    [created] = fake_twilio.messages
    assert [m.sid for m in sender.recent_messages(PATIENT, a_minute_ago())] == [created["sid"]]


def test_a_slow_reply_that_created_nothing_is_still_unknown(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    fake_twilio.script(PATIENT, delay=1.0, created=False)

    assert send_failure(sender).failure is Failure.UNKNOWN
    assert fake_twilio.messages == []
    assert sender.recent_messages(PATIENT, a_minute_ago()) == []


def test_a_connection_dropped_after_sending_is_unknown(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    fake_twilio.script(PATIENT, drop=True)

    assert send_failure(sender).failure is Failure.UNKNOWN
    assert len(fake_twilio.messages) == 1


def test_a_refused_connection_means_retry(make_sender: SenderFactory) -> None:
    sender = make_sender(api_base_url=f"http://127.0.0.1:{unused_port()}")

    assert send_failure(sender).failure is Failure.RETRY


def test_a_stopped_twilio_means_retry(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    fake_twilio.stop()

    assert send_failure(sender).failure is Failure.RETRY


def test_it_succeeds_once_two_scripted_failures_are_used_up(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    fake_twilio.script(PATIENT, code=20429, times=2)

    failures = [send_failure(sender).failure for _ in range(2)]
    receipt = sender.send(sms())

    assert failures == [Failure.RETRY, Failure.RETRY]
    assert receipt.status == "queued"
    assert fake_twilio.attempts_to(PATIENT) == 3
    assert len(fake_twilio.messages) == 1


def test_random_faults_are_retry_or_unknown_and_create_nothing() -> None:
    with FakeTwilio(fault_rate=0.5, seed=7) as fake:
        sender = TwilioSender(
            fake.account_sid, fake.auth_token, from_number=FROM_NUMBER, api_base_url=fake.base_url
        )
        failures: list[Failure] = []
        for _ in range(20):
            try:
                sender.send(sms())
            except SmsSendError as error:
                failures.append(error.failure)

        assert 0 < len(failures) < 20
        assert set(failures) <= {Failure.RETRY, Failure.UNKNOWN}
        assert len(fake.messages) == 20 - len(failures)


def test_recent_messages_finds_a_queued_message_by_number_and_time(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    since = datetime.now(UTC)
    receipt = sender.send(sms())
    sender.send(sms(OTHER_PATIENT))

    [found] = sender.recent_messages(PATIENT, since)

    assert (found.sid, found.to, found.from_, found.body) == (
        receipt.provider_sid,
        PATIENT,
        FROM_NUMBER,
        BODY,
    )
    assert (found.status, found.error_code) == ("queued", None)
    assert found.date_created is not None
    assert found.date_created.tzinfo is UTC
    assert abs(found.date_created - since) < timedelta(seconds=5)


def test_recent_messages_leaves_out_messages_created_before_since(
    fake_twilio: FakeTwilio, sender: TwilioSender
) -> None:
    sender.send(sms())

    assert sender.recent_messages(PATIENT, datetime.now(UTC) + timedelta(minutes=1)) == []


def test_recent_messages_takes_since_in_any_timezone(fake_twilio: FakeTwilio, sender: TwilioSender) -> None:
    sender.send(sms())
    new_york = ZoneInfo("America/New_York")

    assert len(sender.recent_messages(PATIENT, a_minute_ago().astimezone(new_york))) == 1
    assert (
        sender.recent_messages(PATIENT, (datetime.now(UTC) + timedelta(minutes=1)).astimezone(new_york)) == []
    )


def test_recent_messages_refuses_a_naive_since(sender: TwilioSender) -> None:
    with pytest.raises(ValueError, match="aware"):
        sender.recent_messages(PATIENT, datetime(2030, 1, 1))  # noqa: DTZ001


def test_recent_messages_with_bad_credentials_means_config(make_sender: SenderFactory) -> None:
    sender = make_sender(auth_token="not-the-token")

    with pytest.raises(SmsSendError) as caught:
        sender.recent_messages(PATIENT, a_minute_ago())

    assert (caught.value.failure, caught.value.code) == (Failure.CONFIG, 20003)


def test_recent_messages_from_an_unreachable_twilio_means_retry(make_sender: SenderFactory) -> None:
    sender = make_sender(api_base_url=f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(SmsSendError) as caught:
        sender.recent_messages(PATIENT, a_minute_ago())

    assert caught.value.failure is Failure.RETRY


@pytest.mark.parametrize(
    "script",
    [
        {"code": 21211},
        {"code": 21610},
        {"status": 500},
        {"status": 503, "html": True},
        {"delay": 1.0},
        {"drop": True},
        {"code": 21999},
    ],
    ids=["21211", "21610", "500", "html-503", "timeout", "dropped", "unknown-code"],
)
def test_errors_never_carry_the_number_or_the_body(
    fake_twilio: FakeTwilio, sender: TwilioSender, script: dict[str, Any]
) -> None:
    fake_twilio.script(PATIENT, **script)

    error = send_failure(sender)

    shown = [str(error), repr(error), *map(str, error.args), *traceback.format_exception(error)]
    for text in shown:
        assert PATIENT_DIGITS not in text
        assert BODY not in text


def test_it_logs_no_patient_number_at_info(
    fake_twilio: FakeTwilio, sender: TwilioSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    sender.send(sms())
    sender.recent_messages(PATIENT, a_minute_ago())

    assert PATIENT_DIGITS not in caplog.text


def test_it_wants_exactly_one_of_from_number_and_messaging_service(fake_twilio: FakeTwilio) -> None:
    sid, token = fake_twilio.account_sid, fake_twilio.auth_token
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSender(sid, token)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSender(sid, token, from_number=FROM_NUMBER, messaging_service_sid=SERVICE_SID)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"account_sid": "AC123"}, "account_sid"),
        ({"messaging_service_sid": "MG123", "from_number": None}, "messaging_service_sid"),
        ({"api_base_url": "http://127.0.0.1:1/2010-04-01"}, "TWILIO_API_BASE_URL"),
        ({"api_base_url": "127.0.0.1:8765"}, "TWILIO_API_BASE_URL"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
    ],
    ids=[
        "short-account-sid",
        "bad-service-sid",
        "base-url-with-path",
        "base-url-without-scheme",
        "zero-timeout",
    ],
)
def test_it_refuses_bad_settings_at_construction(options: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "token",
        "from_number": FROM_NUMBER,
    } | options

    with pytest.raises(ValueError, match=message):
        TwilioSender(**settings)
