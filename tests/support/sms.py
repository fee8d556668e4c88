"""Shared values for the SMS tests: numbers, a message body and a builder for outgoing texts."""

from __future__ import annotations

from scheduler.sms import OutgoingSms

PATIENT = "+15555550100"
PATIENT_DIGITS = "5555550100"  # how the number would show up in a URL-encoded query or a message
OTHER_PATIENT = "+15555550199"
FROM_NUMBER = "+15005550006"
SERVICE_SID = "MG" + "0123456789abcdef" * 2
BODY = "Riverside Clinic: your visit is tomorrow at 10:00. Reply C to confirm, R to change."
CALLBACK = "https://reminders.example.org/twilio/status?rid=42"
# Far below the fake's scripted 1 s delays, so a "slow reply" test takes a third of a second.
CLIENT_TIMEOUT = 0.3


def sms(
    to: str = PATIENT,
    *,
    status_callback: str | None = None,
    validity_period_seconds: int | None = None,
) -> OutgoingSms:
    return OutgoingSms(to, BODY, status_callback, validity_period_seconds)
