"""Wiring for the entry points: settings, protocols, engine and services built once, in order."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock, SystemClock
from scheduler.config import Settings
from scheduler.domain.protocols import Protocol, load_protocols
from scheduler.errors import ConfigError
from scheduler.services import Clinic
from scheduler.services.exports import Exports
from scheduler.services.reports import Reports
from scheduler.services.staff import StaffDesk
from scheduler.settings_file import env_file, load_settings
from scheduler.sms import ConsoleSender, SmsSender
from scheduler.store.db import check_schema, database_for, make_engine

# Reading the settings lives in `config` (light: commands that open no database import only it).
__all__ = ["App", "build", "env_file", "load_settings", "make_sender"]


@dataclass
class App:
    settings: Settings
    protocols: dict[str, Protocol]
    engine: Engine
    database: sessionmaker[DbSession]
    clock: Clock

    def sender(self) -> SmsSender:
        return make_sender(self.settings)

    def clinic(self, actor: str) -> Clinic:
        """Every operation on patients and sessions, done as `actor`."""
        return Clinic(self.settings, self.protocols, self.database, self.clock, actor)

    def desk(self, actor: str) -> StaffDesk:
        """What the staff pages read, as `actor`."""
        return StaffDesk(self.settings, self.protocols, self.database, self.clock, actor)

    def reports(self, actor: str) -> Reports:
        """The weekly figures, read as `actor`."""
        return Reports(self.settings, self.protocols, self.database, self.clock, actor)

    def exports(self, actor: str) -> Exports:
        """CSV exports, audited as `actor`'s."""
        return Exports(self.settings, self.protocols, self.database, self.clock, actor)

    def close(self) -> None:
        self.engine.dispose()


def make_sender(settings: Settings) -> SmsSender:
    """The Twilio sender when it is configured (or forced), else the console sender."""
    if settings.effective_sms_backend != "twilio":
        return ConsoleSender()
    from scheduler.sms.twilio import TwilioSender

    assert settings.twilio_account_sid is not None
    assert settings.twilio_auth_token is not None
    try:
        return TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            # A Messaging Service picks the sender from its pool; it wins when both are set.
            from_number=None if settings.twilio_messaging_service_sid else settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=settings.twilio_api_base_url,
        )
    except ValueError as exc:
        raise ConfigError(f"Twilio settings: {exc}") from None


def build(settings: Settings, clock: Clock | None = None, *, check: bool = True) -> App:
    """Everything a command needs; refuses a database whose schema is out of date."""
    protocols = load_protocols(settings.protocols_file)
    engine = make_engine(settings.database_url)
    try:
        if check:
            check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return App(settings, protocols, engine, database_for(engine), clock or SystemClock())
