"""The SMS port: what a sender takes and returns, how provider errors are classified, number masking.

`Failure` and `SmsSendError` live in `scheduler.errors` with the rest of the error tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from scheduler.errors import Failure

# Twilio's published limits for a Message (OpenAPI `CreateMessageRequest`); a message that breaks them
# is a bug in the caller, so it is refused when it is built rather than when a provider rejects it.
MAX_BODY_CHARS = 1600
MIN_VALIDITY_PERIOD_SECONDS = 1
MAX_VALIDITY_PERIOD_SECONDS = 36000

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass(frozen=True)
class OutgoingSms:
    """One text to hand to a provider. `to` is E.164; the body is already rendered."""

    to: str
    body: str
    status_callback: str | None = None
    validity_period_seconds: int | None = None

    def __post_init__(self) -> None:
        # The messages below never quote the values: they may be a patient's number or text.
        if not _E164.match(self.to):
            raise ValueError("OutgoingSms.to must be an E.164 number")
        if not self.body or len(self.body) > MAX_BODY_CHARS:
            raise ValueError(f"OutgoingSms.body must have 1 to {MAX_BODY_CHARS} characters")
        period = self.validity_period_seconds
        if period is not None and not (MIN_VALIDITY_PERIOD_SECONDS <= period <= MAX_VALIDITY_PERIOD_SECONDS):
            raise ValueError(
                "OutgoingSms.validity_period_seconds must be between "
                f"{MIN_VALIDITY_PERIOD_SECONDS} and {MAX_VALIDITY_PERIOD_SECONDS}"
            )


@dataclass(frozen=True)
class SendReceipt:
    """What the provider said when it took the message: its id and initial status."""

    provider_sid: str | None
    status: str


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's message log shows it; used to reconcile an unknown outcome."""

    sid: str
    to: str | None
    from_: str | None
    body: str | None
    status: str | None
    error_code: int | None
    date_created: datetime | None
    messaging_service_sid: str | None = None


# Twilio warns that codes get split and renamed, so the logic lives in data and unknown codes fall
# through to REVIEW.
SYNC_ERROR_CLASSES: Mapping[int, Failure] = MappingProxyType(
    {
        20003: Failure.CONFIG,  # authentication failed
        20404: Failure.CONFIG,  # Messages.json itself not found: wrong account sid or API base URL
        20429: Failure.RETRY,  # "429 responses aren't processed and are safe to retry"
        21211: Failure.INVALID_NUMBER,  # `To` is not a valid phone number
        # 21612 (To not reachable from this From) is confined to one recipient: flagging the number
        # lets staff look at it, whereas CONFIG would stop texts to every other patient.
        21612: Failure.INVALID_NUMBER,
        21614: Failure.INVALID_NUMBER,  # `To` is not a mobile number
        21635: Failure.INVALID_NUMBER,  # `To` is a landline
        21610: Failure.OPTED_OUT,  # recipient replied STOP
        21611: Failure.RETRY,  # this From has more than 10 h of queued messages; not processed
        21212: Failure.CONFIG,  # invalid From number
        21408: Failure.CONFIG,  # destination country not enabled in Geo Permissions
        21606: Failure.CONFIG,  # From cannot send SMS to this destination
        21608: Failure.CONFIG,  # trial account, unverified recipient
        21609: Failure.CONFIG,  # invalid StatusCallback URL (PUBLIC_BASE_URL)
        21701: Failure.CONFIG,  # Messaging Service does not exist in this account
        21705: Failure.CONFIG,  # Messaging Service sid is malformed
    }
)

ASYNC_ERROR_CLASSES: Mapping[int, Failure] = MappingProxyType(
    {
        30001: Failure.TRANSIENT,  # queue overflow
        30003: Failure.TRANSIENT,  # handset unreachable
        30008: Failure.TRANSIENT,  # unknown error, usually temporary
        30004: Failure.INVALID_NUMBER,  # blocked
        30005: Failure.INVALID_NUMBER,  # unknown destination handset
        30006: Failure.INVALID_NUMBER,  # landline or unreachable carrier
        30007: Failure.REVIEW,  # carrier filtering: content or registration needs a human
        30034: Failure.CONFIG,  # unregistered A2P 10DLC sender
        30036: Failure.EXPIRED,  # validity period elapsed in Twilio's queue
        21610: Failure.OPTED_OUT,  # Messaging Services can report an opt-out after creation
    }
)


def classify(code: int | None, http_status: int | None) -> Failure:
    """Classify a synchronous provider error from its error code and HTTP status."""
    if code is not None and code in SYNC_ERROR_CLASSES:
        return SYNC_ERROR_CLASSES[code]
    if http_status == 429:
        return Failure.RETRY
    if http_status is not None and http_status >= 500:
        return Failure.UNKNOWN
    if http_status == 401:
        return Failure.CONFIG
    return Failure.REVIEW


def classify_delivery_error(code: int | None) -> Failure:
    """Classify the error code of a message that was created but then failed or went undelivered."""
    if code is None:
        return Failure.REVIEW
    return ASYNC_ERROR_CLASSES.get(code, Failure.REVIEW)


class SmsSender(Protocol):
    """Something that hands a text to an SMS provider (or prints it)."""

    name: str

    def send(self, sms: OutgoingSms) -> SendReceipt:
        """Hand one text over; raise `SmsSendError` when the provider refuses or cannot be reached."""
        ...

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to `to` created at or after `since` (aware), newest first, for reconciliation."""
        ...


def mask_phone(e164: str) -> str:
    """`+15555550100` -> `+1******0100`: the first two and last four characters survive."""
    # Short values keep only their first two characters so that nearly all of them is not revealed.
    if len(e164) < 10:
        return e164[:2] + "*" * max(len(e164) - 2, 0)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]
