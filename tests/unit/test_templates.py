"""Every text a patient can receive fits, says nothing about the treatment, and gives the right
numbers to call."""

from __future__ import annotations

from datetime import datetime

import pytest

from scheduler.domain.templates import (
    FORBIDDEN_WORDS,
    MESSAGE_SEGMENTS,
    MESSAGES,
    PARTS,
    Piece,
    TextContext,
    Voice,
    combine,
    gsm7_length,
    render,
    segments,
    text_problems,
)

# Realistic worst cases: a long clinic name (the longest CLINIC_NAME allows), the widest day and
# time, and a formatted number; one voice per country with built-in lines.
US = Voice("Riverside Wellness C", "(201) 555-0100", "911", "call or text 988")
UK = Voice("Riverside Wellness C", "020 7183 8750", "999", "Samaritans 116 123")
AU = Voice("Riverside Wellness C", "(02) 9374 4000", "000", "Lifeline 13 11 14")
WIDEST = datetime(2026, 9, 30, 12, 45)  # noqa: DTZ001 - a wall-clock time
TEMPLATES = sorted({*MESSAGES, *PARTS})


def widest(voice: Voice = US) -> TextContext:
    return TextContext(voice, WIDEST, patient=2_147_483_647)


@pytest.mark.parametrize("voice", [US, UK, AU], ids=["us", "uk", "au"])
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_alone_fits_one_gsm7_segment_and_is_discreet(name: str, voice: Voice) -> None:
    text = render(name, widest(voice))
    assert text_problems(text) == [], text
    assert "{" not in text


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_names_the_clinic(name: str) -> None:
    assert render(name, widest()).startswith("Riverside Wellness C")


@pytest.mark.parametrize("family", ["iv", "nasal"])
@pytest.mark.parametrize("voice", [US, UK, AU], ids=["us", "uk", "au"])
def test_a_check_in_and_a_preparation_that_asks_to_confirm_share_two_segments(
    family: str, voice: Voice
) -> None:
    ctx = widest(voice)
    day = [Piece("check-in:attended", WIDEST), Piece(f"prep:{family}", WIDEST), Piece("confirm-ask")]
    text = combine(ctx, day)
    assert segments(text) <= MESSAGE_SEGMENTS
    assert text.count("Riverside Wellness C") == 1
    assert text.endswith("Reply C to confirm or R to change.")


@pytest.mark.parametrize("name", ["help", "unrecognised", "urgent"])
def test_answers_to_help_and_other_replies_give_the_clinic_phone_emergency_number_and_crisis_line(
    name: str,
) -> None:
    text = render(name, widest(UK))
    assert "020 7183 8750" in text
    assert "999" in text
    assert "Samaritans 116 123" in text
    assert "911" not in text
    assert "988" not in text


@pytest.mark.parametrize("name", ["check-in", "check-in:attended"])
def test_the_check_in_gives_the_clinic_phone_and_emergency_number_but_no_crisis_line(name: str) -> None:
    # A crisis line on a lock screen says what kind of care this is.
    text = render(name, widest(UK))
    assert "020 7183 8750" in text
    assert "Emergency: 999" in text
    assert "Samaritans" not in text


def test_the_check_in_thanks_the_patient_only_when_attendance_was_recorded() -> None:
    assert "Thanks for coming in" in render("check-in:attended", widest())
    assert "coming in" not in render("check-in", widest()).lower()
    assert "visit" not in render("check-in", widest()).lower()


@pytest.mark.parametrize("name", ["prep:iv", "prep:nasal"])
def test_preparation_sent_the_day_before_never_says_tomorrow(name: str) -> None:
    text = render(name, widest())
    assert "tomorrow" not in text.lower()
    assert "no driving until the day after" in text


def test_confirm_asks_for_c_or_r_never_cancel() -> None:
    text = render("confirm", widest())
    assert "Reply C to confirm or R" in text
    assert "CANCEL" not in text.upper()


def test_welcome_carries_the_opt_in_elements() -> None:
    text = render("welcome", widest())
    for element in ("HELP", "STOP", "Msg&data rates may apply"):
        assert element in text


def test_the_staff_alert_names_no_one_and_quotes_nothing() -> None:
    assert render("staff-alert", TextContext(US, patient=123)) == (
        "Riverside Wellness C: Urgent reply from patient 123: see Today."
    )


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
    text = render("confirmed", TextContext(US, start))
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 160, 1),
        ("x" * 161, 2),  # a longer text is split in 153-character parts
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("[" * 80, 1),  # extension characters count twice: 160 septets
        ("[" * 81, 2),
        ("á" * 70, 1),  # one character outside GSM-7 makes the whole text UCS-2: 70 a segment
        ("á" * 71, 2),  # then 67 a part
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("😊" * 35, 1),  # an emoji is two UTF-16 units
        ("😊" * 36, 2),
    ],
    ids=[
        "gsm-160", "gsm-161", "gsm-306", "gsm-307", "ext-80", "ext-81",
        "ucs2-70", "ucs2-71", "ucs2-134", "ucs2-135", "emoji-35", "emoji-36",
    ],
)  # fmt: skip
def test_segments_are_counted_in_the_encoding_the_text_needs(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_gsm7_extension_characters_count_double() -> None:
    assert gsm7_length("[]") == 4
    assert gsm7_length("abc") == 3
    assert gsm7_length("€") == 2


def test_forbidden_words_include_the_design_list() -> None:
    for word in ("ketamine", "esketamine", "spravato", "infusion", "depression"):
        assert word in FORBIDDEN_WORDS
