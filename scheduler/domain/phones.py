"""Phone numbers: parse what staff typed into E.164, keeping only numbers that can take texts."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from scheduler.errors import InvalidInput

_TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def parse_mobile(raw: str, region: str) -> str:
    """The E.164 form of `raw`, read in `region` unless it starts with +; InvalidInput otherwise."""
    text = raw.strip()
    if not text:
        raise InvalidInput("phone number is required", field="phone")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("the phone number could not be read", field="phone") from None
    # Messages never quote the number: they reach logs, cron mail and API answers.
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("the phone number is not a valid number", field="phone")
    if phonenumbers.number_type(number) not in _TEXTABLE:
        raise InvalidInput(
            "the phone number cannot receive text messages (not a mobile number)", field="phone"
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def readable(e164: str) -> str:
    """How a number reads in a text: national format for the region it belongs to."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
