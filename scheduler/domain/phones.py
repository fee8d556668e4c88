"""Phone numbers: parse what staff typed into E.164, keeping only numbers that can take texts."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from scheduler.errors import InvalidInput

_TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Where a national number that is not valid in the clinic's region may come from instead.
_LIKELY_ELSEWHERE = ("GB", "CA", "MX", "AU", "ES", "IE", "NZ", "DE", "FR", "IT", "IN", "PH", "BR", "CO")
# Digits and the marks people write between them; a letter is never read as a digit (a vanity
# number with one letter mistyped would text a stranger).
_TYPED = re.compile(r"\+?[0-9 ().\-/]+")


def parse_mobile(raw: str, region: str) -> str:
    """The E.164 form of `raw`, read in `region` unless it starts with +; InvalidInput otherwise."""
    text = raw.strip()
    if not text:
        raise InvalidInput("phone number is required", field="phone")
    if not _TYPED.fullmatch(text):
        what = "letters" if re.search(r"[^\W\d_]", text) else "characters that are not digits"
        raise InvalidInput(f"the phone number has {what}: type its digits", field="phone")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("the phone number could not be read", field="phone") from None
    # Messages never quote the number: they reach logs, cron mail and API answers. A number of a
    # textable type is a valid one (both are read from the number's region's patterns), so the
    # validity check, as costly again, is left for the numbers refused.
    if phonenumbers.number_type(number) not in _TEXTABLE:
        if not phonenumbers.is_valid_number(number):
            raise InvalidInput(
                f"the phone number is not a valid number{_elsewhere(text, region)}", field="phone"
            )
        raise InvalidInput(
            "the phone number cannot receive text messages (not a mobile number)", field="phone"
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _elsewhere(text: str, region: str) -> str:
    """A hint for a national number that is valid in another country: its country code."""
    if text.startswith("+") or sum(c.isdigit() for c in text) < 9:
        return ""
    for other in _LIKELY_ELSEWHERE:
        if other == region:
            continue
        try:
            number = phonenumbers.parse(text, other)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _TEXTABLE:
            return (
                f" in {region}; it looks like a +{number.country_code} number ({_country(other)}): "
                "write it with its country code"
            )
    return f" in {region}; a number from another country needs its country code (+44 ..., +52 ...)"


def _country(region: str) -> str:
    from babel import Locale

    name: str = Locale("en").territories.get(region, region)
    return name


def readable(e164: str) -> str:
    """How a number reads in a text: national format for the region it belongs to."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
