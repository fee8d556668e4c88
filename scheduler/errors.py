"""Every error the service raises on purpose, in one tree; each says what went wrong and what to do.

    ReminderError                 the root: catch it to catch them all
    ├── ConfigError               a setting is missing or malformed; the message names the variable
    ├── SchemaOutOfDate           the database schema is not this code's: run `reminders db upgrade`
    ├── InvalidInput              staff, a file or a request asked for something refused; nothing
    │   │                         was written. `problems` maps each field to what is wrong with it
    │   ├── NotFound              a patient, session or other record named by id does not exist
    │   └── Conflict              well formed, but clashes with what is stored (a number in use)
    ├── SignInRequired            a staff page was asked for with no one signed in
    ├── SignInRefused             wrong email or password, or too many attempts
    └── SmsSendError              a text was not handed over; `failure` says whether to retry

Messages never quote a phone number, a message body or a name: they reach logs, cron mail and API
answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

FORM = "form"  # the `problems` key for a problem that belongs to no one field


class ReminderError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ReminderError):
    """A setting is missing or malformed; the message names the variable."""


class SchemaOutOfDate(ReminderError):
    """The database schema is older (or newer) than this code; run `reminders db upgrade`."""


class InvalidInput(ReminderError):
    """Input from staff, a file or a request was rejected; nothing was written.

    `problems` maps each offending field (or `FORM`) to its message, so a form or an API answer
    can show every problem at once; `field` is the first of them.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> None:
        found = dict(problems or {})
        if message is not None and not found:
            found[field or FORM] = message
        if not found:
            raise ValueError("InvalidInput needs a message or problems")
        super().__init__(message if message is not None else "; ".join(found.values()))
        self.problems = found
        first = field if field is not None else next(iter(found))
        self.field: str | None = None if first == FORM else first


class NotFound(InvalidInput):
    """A patient, appointment or other record named by id does not exist."""


class Conflict(InvalidInput):
    """The request is well formed but clashes with the current state (a duplicate number, say).

    `existing` is the id of the patient it clashes with, when there is one (an API answer points
    at it).
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        problems: Mapping[str, str] | None = None,
        existing: int | None = None,
    ) -> None:
        super().__init__(message, field=field, problems=problems)
        self.existing = existing


class SignInRequired(ReminderError):
    """A staff page was asked for with no one signed in; the web app sends them to sign in."""


class SignInRefused(ReminderError):
    """Wrong email or password, or too many attempts; the message is safe to show."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Failure(StrEnum):
    """What a failed send means for the caller.

    - RETRY: the provider did not process the request (HTTP 429 / 20429, 21611, a connection that was
      never established). Safe to send again after a backoff.
    - UNKNOWN: the request may have been accepted (a timeout after sending, a 5xx, a connection dropped
      after sending). Never resend blindly: reconcile against the provider's message log first.
    - TRANSIENT: a created message failed delivery for a reason that may pass (30001, 30003, 30008).
      A new, later attempt is reasonable, a bounded number of times.
    - OPTED_OUT: the recipient has opted out (21610). Opt the patient out; send nothing more.
    - INVALID_NUMBER: the number cannot receive texts (21211, 21612, 21614, 21635, 30004-30006).
      Flag the number for staff; do not retry.
    - CONFIG: our account or settings are wrong (20003 authentication, 21606, 21608, 21408, 30034 ...).
      Stop sending, alert loudly, and do not count it as an attempt against the reminder.
    - EXPIRED: the message outlived its validity period in the provider's queue (30036).
    - REVIEW: anything the tables do not know. Hold for staff review; never retry forever.
    """

    RETRY = "retry"
    UNKNOWN = "unknown"
    TRANSIENT = "transient"
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    CONFIG = "config"
    EXPIRED = "expired"
    REVIEW = "review"


class SmsSendError(ReminderError):
    """A send failed; `failure` says what to do about it.

    The message names the class, code and HTTP status only: provider messages can quote the
    recipient's number, so they are never copied in.
    """

    def __init__(
        self,
        failure: Failure,
        *,
        code: int | None = None,
        http_status: int | None = None,
        reason: str = "",
    ) -> None:
        parts = [f"SMS send failed: {failure.value}"]
        if code is not None:
            parts.append(f"code {code}")
        if http_status is not None:
            parts.append(f"HTTP {http_status}")
        if reason:
            parts.append(reason)
        super().__init__(", ".join(parts))
        self.failure = failure
        self.code = code
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        """True only when the request was not processed and may simply be sent again later."""
        return self.failure is Failure.RETRY
