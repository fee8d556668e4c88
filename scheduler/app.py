"""Wiring for the entry points: settings, protocols, engine and services built once, in order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv
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
from scheduler.sms import ConsoleSender, SmsSender
from scheduler.store.db import check_schema, database_for, make_engine


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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env`, or from the process environment after reading `.env`."""
    if env is None:
        path = env_file()
        try:
            load_dotenv(path)
        except PermissionError:
            raise ConfigError(
                f"cannot read {path}: run the command as the service user (the owner of the file), "
                "from the service's folder"
            ) from None
        env = os.environ
    return Settings.from_env(env)


def env_file() -> Path:
    """The settings file: `ENV_FILE` when set, else `.env` in the working directory and nowhere
    higher up, so a file planted in a parent directory is never read."""
    named = os.environ.get("ENV_FILE")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError("ENV_FILE names a file that does not exist")
        return path
    return Path.cwd() / ".env"


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
