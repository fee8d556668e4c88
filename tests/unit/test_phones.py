"""Phone numbers are stored as E.164 and must be able to take texts."""

from __future__ import annotations

import pytest

from scheduler.domain.phones import parse_mobile
from scheduler.domain.timeutil import zone
from scheduler.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("201.555.0123", "US", "+12015550123"),
        ("+1 201 555 0123", "GB", "+12015550123"),
        ("07911 123456", "GB", "+447911123456"),
    ],
    ids=["us-national", "us-dots", "international", "uk-mobile"],
)
def test_numbers_are_stored_as_e164(raw: str, region: str, expected: str) -> None:
    assert parse_mobile(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "12345", "not a number", "+1 555 555 0100", "+44 20 7183 8750"],
    ids=["empty", "short", "words", "fictional-555", "uk-landline"],
)
def test_numbers_that_cannot_take_texts_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_mobile(raw, "US")
    assert info.value.field == "phone"


@pytest.mark.parametrize("raw", ["+1 415 CALL NOW", "415-CALL-NOW", "(201) 555-O123", "201 555 0123 ext 4"])
def test_letters_are_refused_never_read_as_digits(raw: str) -> None:
    # One mistyped letter of a vanity-style entry would text a stranger.
    with pytest.raises(InvalidInput, match="has letters: type its digits"):
        parse_mobile(raw, "US")


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("07911 123456", "it looks like a +44 number (United Kingdom): write it with its country code"),
        ("0412 345 678", "it looks like a +61 number (Australia)"),
        ("000 0000 0000", "a number from another country needs its country code"),
    ],
)
def test_a_national_number_from_another_country_gets_a_hint(raw: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_mobile(raw, "US")
    assert "not a valid number in US" in str(info.value)
    assert hint in str(info.value)
    assert raw not in str(info.value)


@pytest.mark.parametrize("name", ["EST", "Mars/Olympus", "", "+05:00", "america/new_york"])
def test_only_iana_zone_names_are_accepted(name: str) -> None:
    with pytest.raises(InvalidInput, match="unknown timezone"):
        zone(name)
