"""Wiring for the entry points: settings, protocols, engine and services built once, in order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from dotenv import load_dotenv
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock, SystemClock
from scheduler.config import Settings
from scheduler.domain.protocols import Protocol, load_protocols
from scheduler.services import Clinic
from scheduler.store.db import check_schema, make_engine, session_factory


@dataclass
class App:
    settings: Settings
    protocols: dict[str, Protocol]
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock

    def clinic(self, actor: str) -> Clinic:
        return Clinic(self.settings, self.protocols, self.sessions, self.clock, actor)

    def close(self) -> None:
        self.engine.dispose()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env`, or from the process environment after reading `.env`."""
    if env is None:
        load_dotenv()
        env = os.environ
    return Settings.from_env(env)


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
    return App(settings, protocols, engine, session_factory(engine), clock or SystemClock())
