"""Fixtures for web tests: the app with a Twilio auth token, a test client, a signer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from scheduler.app import App, build
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.sms import TwilioSender
from scheduler.web import create_app
from tests.support import PUBLIC, FrozenClock, Signer, make_settings
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio(clock: FrozenClock) -> Iterator[FakeTwilio]:
    # On the app's clock: the messages it creates carry the dates the app's own rows have.
    with FakeTwilio(clock=clock) as fake:
        yield fake


@pytest.fixture
def app(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio) -> Iterator[App]:
    settings = make_settings(
        database_url,
        send_rate_per_second=1000.0,
        public_base_url=PUBLIC,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_account_sid=fake_twilio.account_sid,
    )
    built = build(settings, clock)
    yield built
    built.close()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    # The app sits behind a TLS-terminating proxy: requests arrive as plain http to another host.
    with TestClient(create_app(app), base_url="http://10.0.0.5:8000") as test_client:
        yield test_client


@pytest.fixture
def sign(fake_twilio: FakeTwilio) -> Signer:
    """X-Twilio-Signature for a form posted to `path` (with its query) on the public URL."""
    validator = RequestValidator(fake_twilio.auth_token)

    def signature(path: str, params: dict[str, str]) -> str:
        return str(validator.compute_signature(PUBLIC + path, params))

    return signature


@pytest.fixture
def dispatcher(app: App, fake_twilio: FakeTwilio, clock: FrozenClock) -> Iterator[Dispatcher]:
    sender = TwilioSender(
        fake_twilio.account_sid,
        fake_twilio.auth_token,
        from_number="+12015550100",
        api_base_url=fake_twilio.base_url,
        timeout_seconds=0.5,
    )
    made = Dispatcher(
        app.settings, app.protocols, app.database, sender, clock, "worker-a", DispatchOptions(threads=2)
    )
    yield made
    made.close()
