"""Sending texts: the `SmsSender` port, error classification, and the Twilio and console senders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.errors import Failure, SmsSendError
from scheduler.sms.base import (
    ASYNC_ERROR_CLASSES,
    MAX_BODY_CHARS,
    MAX_VALIDITY_PERIOD_SECONDS,
    MIN_VALIDITY_PERIOD_SECONDS,
    SYNC_ERROR_CLASSES,
    OutgoingSms,
    ProviderMessage,
    SendReceipt,
    SmsSender,
    classify,
    classify_delivery_error,
    mask_phone,
)
from scheduler.sms.console import ConsoleSender

if TYPE_CHECKING:
    from scheduler.sms.twilio import RedirectingHttpClient, TwilioSender


def __getattr__(name: str) -> object:
    # twilio and requests take a noticeable share of every command's start-up: load on first use.
    if name in ("RedirectingHttpClient", "TwilioSender"):
        from scheduler.sms import twilio

        return getattr(twilio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ASYNC_ERROR_CLASSES",
    "MAX_BODY_CHARS",
    "MAX_VALIDITY_PERIOD_SECONDS",
    "MIN_VALIDITY_PERIOD_SECONDS",
    "SYNC_ERROR_CLASSES",
    "ConsoleSender",
    "Failure",
    "OutgoingSms",
    "ProviderMessage",
    "RedirectingHttpClient",
    "SendReceipt",
    "SmsSendError",
    "SmsSender",
    "TwilioSender",
    "classify",
    "classify_delivery_error",
    "mask_phone",
]
