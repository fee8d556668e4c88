"""Fixtures for dispatch tests: an app on both engines, a fake Twilio, a dispatcher wired to both."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from scheduler.app import App, build
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.sms import SmsSender, TwilioSender
from tests.support import DispatcherFactory, FrozenClock, make_settings
from tests.support.fake_twilio import FakeTwilio

FROM_NUMBER = "+12015550100"


@pytest.fixture
def fake_twilio(clock: FrozenClock) -> Iterator[FakeTwilio]:
    # On the app's clock: the messages it creates carry the dates the app's own rows have.
    with FakeTwilio(clock=clock) as fake:
        yield fake


@pytest.fixture
def app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    settings = make_settings(
        database_url,
        send_rate_per_second=1000.0,
        public_base_url="https://reminders.example.org",
        twilio_from_number=FROM_NUMBER,
    )
    built = build(settings, clock)
    yield built
    built.close()


@pytest.fixture
def make_dispatcher(app: App, fake_twilio: FakeTwilio, clock: FrozenClock) -> Iterator[DispatcherFactory]:
    made: list[Dispatcher] = []

    def make(
        worker: str = "worker-a",
        auth_token: str | None = None,
        wrap: Callable[[SmsSender], SmsSender] | None = None,
        **options: object,
    ) -> Dispatcher:
        sender: SmsSender = TwilioSender(
            fake_twilio.account_sid,
            auth_token or fake_twilio.auth_token,
            from_number=FROM_NUMBER,
            api_base_url=fake_twilio.base_url,
            timeout_seconds=0.5,
        )
        if wrap is not None:
            sender = wrap(sender)
        dispatcher = Dispatcher(
            app.settings,
            app.protocols,
            app.database,
            sender,
            clock,
            worker,
            DispatchOptions(**{"threads": 2, **options}),  # type: ignore[arg-type]
        )
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture
def dispatcher(make_dispatcher: DispatcherFactory) -> Dispatcher:
    return make_dispatcher()
