"""Error classification tables, the send error, outgoing-message checks and number masking."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.errors import ReminderError
from scheduler.sms import (
    Failure,
    OutgoingSms,
    SmsSendError,
    classify,
    classify_delivery_error,
    mask_phone,
)
from tests.support.sms import BODY, PATIENT

SYNC_CASES = [
    (21610, 400, Failure.OPTED_OUT),
    (21211, 400, Failure.INVALID_NUMBER),
    (21612, 400, Failure.INVALID_NUMBER),
    (21614, 400, Failure.INVALID_NUMBER),
    (21635, 400, Failure.INVALID_NUMBER),
    (20003, 401, Failure.CONFIG),
    (None, 401, Failure.CONFIG),
    (20404, 404, Failure.CONFIG),
    (21212, 400, Failure.CONFIG),
    (21408, 400, Failure.CONFIG),
    (21606, 400, Failure.CONFIG),
    (21608, 400, Failure.CONFIG),
    (21609, 400, Failure.CONFIG),
    (21705, 400, Failure.CONFIG),
    (20429, 429, Failure.RETRY),
    (429, 429, Failure.RETRY),
    (21611, 400, Failure.RETRY),
    (20500, 500, Failure.UNKNOWN),
    (503, 503, Failure.UNKNOWN),
    (None, 502, Failure.UNKNOWN),
    (21999, 400, Failure.REVIEW),
    (21624, 400, Failure.REVIEW),
    (None, 400, Failure.REVIEW),
    (None, None, Failure.REVIEW),
]


@pytest.mark.parametrize(
    ("code", "http_status", "expected"),
    SYNC_CASES,
    ids=[f"{code}-{status}-{expected.value}" for code, status, expected in SYNC_CASES],
)
def test_classify_maps_a_send_error(code: int | None, http_status: int | None, expected: Failure) -> None:
    assert classify(code, http_status) is expected


DELIVERY_CASES = [
    (30001, Failure.TRANSIENT),
    (30003, Failure.TRANSIENT),
    (30008, Failure.TRANSIENT),
    (30004, Failure.INVALID_NUMBER),
    (30005, Failure.INVALID_NUMBER),
    (30006, Failure.INVALID_NUMBER),
    (30007, Failure.REVIEW),
    (30034, Failure.CONFIG),
    (30036, Failure.EXPIRED),
    (21610, Failure.OPTED_OUT),
    (30999, Failure.REVIEW),
    (None, Failure.REVIEW),
]


@pytest.mark.parametrize(
    ("code", "expected"),
    DELIVERY_CASES,
    ids=[f"{code}-{expected.value}" for code, expected in DELIVERY_CASES],
)
def test_classify_delivery_error_maps_a_callback_error(code: int | None, expected: Failure) -> None:
    assert classify_delivery_error(code) is expected


def test_every_failure_is_documented_on_the_enum() -> None:
    doc = Failure.__doc__ or ""
    assert [f.name for f in Failure if f"- {f.name}:" not in doc] == []


@pytest.mark.parametrize("failure", list(Failure), ids=[f.value for f in Failure])
def test_only_retry_is_retryable(failure: Failure) -> None:
    assert SmsSendError(failure).retryable is (failure is Failure.RETRY)


def test_a_send_error_is_a_reminder_error_that_names_class_code_and_status() -> None:
    error = SmsSendError(Failure.OPTED_OUT, code=21610, http_status=400)

    assert isinstance(error, ReminderError)
    assert str(error) == "SMS send failed: opted_out, code 21610, HTTP 400"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"to": "555-0100"}, "E.164"),
        ({"to": "15555550100"}, "E.164"),
        ({"body": ""}, "body"),
        ({"body": "x" * 1601}, "body"),
        ({"validity_period_seconds": 0}, "validity_period_seconds"),
        ({"validity_period_seconds": 36001}, "validity_period_seconds"),
    ],
    ids=["dashes", "no-plus", "empty-body", "body-too-long", "validity-zero", "validity-over-10-hours"],
)
def test_an_outgoing_sms_refuses_what_twilio_would(options: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"to": PATIENT, "body": BODY} | options

    with pytest.raises(ValueError, match=message) as caught:
        OutgoingSms(**fields)

    assert "0100" not in str(caught.value)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+15555550100", "+1******0100"),
        ("+447700900123", "+4*******0123"),
        ("+4930123", "+4******"),
        ("", ""),
    ],
    ids=["us", "uk", "short", "empty"],
)
def test_mask_phone_keeps_two_leading_and_four_trailing_characters(number: str, masked: str) -> None:
    assert mask_phone(number) == masked
