"""Fixtures for the SMS tests: a fake Twilio on loopback and Twilio senders wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler.sms import TwilioSender
from tests.support import SenderFactory
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import CLIENT_TIMEOUT, FROM_NUMBER


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def make_sender(fake_twilio: FakeTwilio) -> SenderFactory:
    """Builds a `TwilioSender` for the fake; keyword arguments override the defaults."""

    def make(
        *,
        auth_token: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
    ) -> TwilioSender:
        return TwilioSender(
            fake_twilio.account_sid,
            auth_token or fake_twilio.auth_token,
            from_number=None if messaging_service_sid else FROM_NUMBER,
            messaging_service_sid=messaging_service_sid,
            api_base_url=api_base_url or fake_twilio.base_url,
            timeout_seconds=CLIENT_TIMEOUT,
        )

    return make


@pytest.fixture
def sender(make_sender: SenderFactory) -> TwilioSender:
    return make_sender()
