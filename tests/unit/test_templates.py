"""Every text a patient can receive fits one SMS and says nothing about the treatment."""

from __future__ import annotations

from datetime import datetime

import pytest

from scheduler.domain.templates import (
    FORBIDDEN_WORDS,
    TEMPLATES,
    TextContext,
    gsm7_length,
    render,
    text_problems,
)

# Realistic worst cases: a long clinic name (the longest CLINIC_NAME allows), the widest day and
# time, and a formatted number.
LONGEST = TextContext(
    clinic="Riverside Wellness C",  # MAX_CLINIC_NAME characters
    phone="(201) 555-0100",
    start=datetime(2026, 9, 30, 12, 45),  # noqa: DTZ001 - a wall-clock time
)


@pytest.mark.parametrize("name", sorted(TEMPLATES), ids=sorted(TEMPLATES))
def test_every_template_fits_one_gsm7_segment_and_is_discreet(name: str) -> None:
    text = render(name, LONGEST)
    assert text_problems(text) == [], text
    assert "{" not in text


@pytest.mark.parametrize("name", sorted(TEMPLATES), ids=sorted(TEMPLATES))
def test_every_template_names_the_clinic(name: str) -> None:
    assert render(name, LONGEST).startswith("Riverside Wellness C")


@pytest.mark.parametrize("name", ["check-in", "help", "unrecognised"])
def test_safety_texts_give_the_clinic_phone_911_and_988(name: str) -> None:
    text = render(name, LONGEST)
    assert "(201) 555-0100" in text
    assert "911" in text
    assert "988" in text


def test_confirm_asks_for_c_or_r_never_cancel() -> None:
    text = render("confirm", LONGEST)
    assert "Reply C to confirm or R" in text
    assert "CANCEL" not in text.upper()


def test_welcome_carries_the_opt_in_elements() -> None:
    text = render("welcome", LONGEST)
    for element in ("HELP", "STOP", "Msg&data rates may apply"):
        assert element in text


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2026, 3, 2, 10, 0), "Mon Mar 2 at 10am"),  # noqa: DTZ001
        (datetime(2026, 3, 2, 12, 30), "Mon Mar 2 at 12:30pm"),  # noqa: DTZ001
        (datetime(2026, 3, 2, 0, 5), "Mon Mar 2 at 12:05am"),  # noqa: DTZ001
    ],
    ids=["on-the-hour", "half-past-noon", "after-midnight"],
)
def test_times_read_naturally(start: datetime, expected: str) -> None:
    text = render("confirmed", TextContext("Oak St", "x", start))
    assert expected in text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Your ketamine visit", "names 'ketamine'"),
        ("Spravato day", "names 'spravato'"),
        ("Reply CANCEL to stop", "asks for CANCEL"),
        ("x" * 161, "over 160"),
        ("Café 😊", "outside GSM-7"),
    ],
    ids=["drug", "brand", "cancel", "too-long", "emoji"],
)
def test_text_problems_catches_what_must_not_be_sent(text: str, problem: str) -> None:
    assert any(problem in p for p in text_problems(text))


def test_gsm7_extension_characters_count_double() -> None:
    assert gsm7_length("[]") == 4
    assert gsm7_length("abc") == 3
    assert gsm7_length("€") == 2


def test_forbidden_words_include_the_design_list() -> None:
    for word in ("ketamine", "esketamine", "spravato", "infusion", "depression"):
        assert word in FORBIDDEN_WORDS
