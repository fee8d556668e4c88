"""Sending texts: the `SmsSender` port, error classification, and the Twilio and console senders."""

from __future__ import annotations

from scheduler.sms.base import (
    ASYNC_ERROR_CLASSES,
    MAX_BODY_CHARS,
    MAX_VALIDITY_PERIOD_SECONDS,
    MIN_VALIDITY_PERIOD_SECONDS,
    SYNC_ERROR_CLASSES,
    Failure,
    OutgoingSms,
    ProviderMessage,
    SendReceipt,
    SmsSender,
    SmsSendError,
    classify,
    classify_delivery_error,
    mask_phone,
)
from scheduler.sms.console import ConsoleSender
from scheduler.sms.twilio import RedirectingHttpClient, TwilioSender

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
