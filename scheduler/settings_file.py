"""Reading the settings: the process environment, after the settings file (`.env`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from scheduler.config import Settings
from scheduler.errors import ConfigError


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env`, or from the process environment after reading `.env`."""
    if env is None:
        from dotenv import load_dotenv

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


# Names the settings file itself, so it is read from the process environment only, never from
# the file (and is not one of the settings in .env.example).
ENV_FILE = "ENV_FILE"


def env_file() -> Path:
    """The settings file: `ENV_FILE` when set, else `.env` in the working directory and nowhere
    higher up, so a file planted in a parent directory is never read."""
    named = os.environ.get(ENV_FILE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError("ENV_FILE names a file that does not exist")
        return path
    return Path.cwd() / ".env"
