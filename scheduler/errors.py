"""The exception tree: one root, and subclasses that say what went wrong and whether to retry."""

from __future__ import annotations


class ReminderError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ReminderError):
    """A setting is missing or malformed; the message names the variable."""


class InvalidInput(ReminderError):
    """Input from staff, a file or a request was rejected; nothing was written.

    `field` names the offending input where there is one, so a form or an API can point at it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(InvalidInput):
    """A patient, appointment or other record named by id does not exist."""


class Conflict(InvalidInput):
    """The request is well formed but clashes with the current state (a duplicate number, say)."""


class SchemaOutOfDate(ReminderError):
    """The database schema is older (or newer) than this code; run `reminders db upgrade`."""
