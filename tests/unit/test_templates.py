"""Every text a patient can receive, in English and Spanish: it fits its segment limit in the
encoding it is really sent in, says nothing about the treatment, and gives the right numbers to
call."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from scheduler.domain.encoding import Encoding, encoding_of, gsm7_length, segments
from scheduler.domain.states import Language
from scheduler.domain.templates import (
    BUILT_IN,
    FORBIDDEN_WORDS,
    LIMITS,
    Piece,
    TemplateError,
    TextContext,
    Voice,
    catalogue_problems,
    combine,
    render,
    text_problems,
    when,
)

EN, ES = Language.EN, Language.ES
# Realistic worst cases: a long clinic name (the longest CLINIC_NAME allows), a formatted number,
# and one voice per country with built-in lines (the US line has a Spanish translation).
US = Voice(
    "Riverside Wellness C", "(201) 555-0100", "911", "call or text 988", "US", {ES: "llame o escriba al 988"}
)
UK = Voice("Riverside Wellness C", "020 7183 8750", "999", "Samaritans 116 123", "GB")
AU = Voice("Riverside Wellness C", "(02) 9374 4000", "000", "Lifeline 13 11 14", "AU")
VOICES = [pytest.param(v, id=v.region.lower()) for v in (US, UK, AU)]
TEMPLATES = BUILT_IN.names()
# Every weekday of every month, at the widest time and on the hour: January is standard time in
# the northern hemisphere, July summer time (and the other way round in Australia).
DAYS = [datetime(2026, month, day, hour, minute) for month in range(1, 13) for day in range(22, 29)  # noqa: DTZ001
        for hour, minute in ((12, 45), (10, 0))]  # fmt: skip


def ctx(voice: Voice, language: Language, start: datetime | None = DAYS[0]) -> TextContext:
    return TextContext(voice, start, patient=2_147_483_647, language=language)


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("language", Language)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_fits_its_limit_on_every_day_and_is_discreet(
    name: str, language: Language, voice: Voice
) -> None:
    limit = LIMITS[language].alone
    for start in DAYS:
        text = render(name, ctx(voice, language, start))
        assert text_problems(text, max_segments=limit) == [], text
        assert "{" not in text
        assert text.startswith("Riverside Wellness C")


@pytest.mark.parametrize("language", Language)
def test_every_built_in_text_stays_in_gsm7(language: Language) -> None:
    # Spanish avoids á, í, ó and ú (and its dates the "sáb" of Saturday): one of them would
    # make the whole message UCS-2, at 67 characters a segment.
    for name in TEMPLATES:
        for start in DAYS:
            assert encoding_of(render(name, ctx(US, language, start))) is Encoding.GSM7, name


@pytest.mark.parametrize("family", ["iv", "nasal"])
@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("language", Language)
def test_a_check_in_and_a_preparation_that_asks_to_confirm_share_one_message(
    family: str, voice: Voice, language: Language
) -> None:
    for start in DAYS:
        day = [Piece("check-in:attended", start), Piece(f"prep:{family}", start), Piece("confirm-ask")]
        text = combine(ctx(voice, language), day)
        assert segments(text) <= LIMITS[language].combined, text
        assert text.count("Riverside Wellness C") == 1


def test_the_built_in_templates_have_no_problems_for_any_country() -> None:
    for voice in (US, UK, AU):
        assert catalogue_problems(voice) == []


@pytest.mark.parametrize(
    ("language", "crisis", "emergency_word"),
    [(EN, "call or text 988", "Emergency"), (ES, "llame o escriba al 988", "Emergencias")],
)
@pytest.mark.parametrize("name", ["help", "unrecognised", "urgent"])
def test_answers_give_the_clinic_phone_emergency_number_and_crisis_line_in_the_patients_language(
    name: str, language: Language, crisis: str, emergency_word: str
) -> None:
    text = render(name, ctx(US, language))
    assert "(201) 555-0100" in text
    assert "911" in text
    assert crisis in text
    uk = render(name, ctx(UK, language))
    assert "999" in uk
    assert "Samaritans 116 123" in uk
    assert "911" not in uk


@pytest.mark.parametrize("language", Language)
@pytest.mark.parametrize("name", ["check-in", "check-in:attended"])
def test_the_check_in_gives_the_clinic_phone_and_emergency_number_but_no_crisis_line(
    name: str, language: Language
) -> None:
    # A crisis line on a lock screen says what kind of care this is.
    text = render(name, ctx(UK, language))
    assert "020 7183 8750" in text
    assert "999" in text
    assert "Samaritans" not in text


def test_the_check_in_thanks_the_patient_only_when_attendance_was_recorded() -> None:
    assert "Thanks for coming in" in render("check-in:attended", ctx(US, EN))
    assert "coming in" not in render("check-in", ctx(US, EN)).lower()
    assert "Gracias por venir" in render("check-in:attended", ctx(US, ES))
    assert "venir" not in render("check-in", ctx(US, ES)).lower()


@pytest.mark.parametrize("name", ["prep:iv", "prep:nasal"])
def test_preparation_sent_the_day_before_never_says_tomorrow(name: str) -> None:
    english = render(name, ctx(US, EN))
    assert "tomorrow" not in english.lower()
    assert "no driving until the day after" in english
    spanish = render(name, ctx(US, ES))
    assert not re.search(r"\bmañana\b(?! siguiente)", spanish), spanish  # "mañana" alone is tomorrow
    assert "no maneje hasta la mañana siguiente" in spanish
    assert "acompañante" in spanish


@pytest.mark.parametrize(("language", "ask"), [(EN, "Reply C to confirm or R"), (ES, "Responda C para")])
def test_confirm_asks_for_c_or_r_never_cancel(language: Language, ask: str) -> None:
    text = render("confirm", ctx(US, language))
    assert ask in text
    assert "CANCEL" not in text.upper()


@pytest.mark.parametrize(
    ("language", "elements"),
    [(EN, ("HELP", "STOP", "Msg&data rates may apply")), (ES, ("AYUDA", "PARAR", "Pueden aplicar tarifas"))],
)
def test_welcome_says_which_words_get_help_and_stop_texts(
    language: Language, elements: tuple[str, ...]
) -> None:
    text = render("welcome", ctx(US, language))
    for element in elements:
        assert element in text


def test_the_staff_alert_names_no_one_and_quotes_nothing() -> None:
    assert render("staff-alert", TextContext(US, patient=123)) == (
        "Riverside Wellness C: Urgent reply from patient 123: see Today."
    )


@pytest.mark.parametrize(
    ("voice", "language", "start", "expected"),
    [
        (US, EN, datetime(2026, 3, 2, 10, 0), "Mon, Mar 2 at 10 AM"),  # noqa: DTZ001
        (US, EN, datetime(2026, 3, 2, 12, 30), "Mon, Mar 2 at 12:30 PM"),  # noqa: DTZ001
        (US, EN, datetime(2026, 3, 2, 0, 5), "Mon, Mar 2 at 12:05 AM"),  # noqa: DTZ001
        (US, ES, datetime(2026, 3, 2, 10, 0), "2 de marzo, 10 a.m."),  # noqa: DTZ001
        (US, ES, datetime(2026, 9, 19, 15, 30), "19 de septiembre, 3:30 p.m."),  # noqa: DTZ001
        (UK, EN, datetime(2026, 3, 2, 15, 30), "Mon 2 Mar at 15:30"),  # noqa: DTZ001
        (UK, ES, datetime(2026, 3, 2, 15, 30), "2 de marzo, 15:30"),  # noqa: DTZ001
    ],
    ids=[
        "us-hour",
        "us-half-past-noon",
        "us-after-midnight",
        "es-hour",
        "es-afternoon",
        "uk-24h",
        "es-uk-24h",
    ],
)
def test_days_and_times_read_as_the_language_writes_them_in_the_clinics_country(
    voice: Voice, language: Language, start: datetime, expected: str
) -> None:
    text = render("confirmed", TextContext(voice, start, language=language))
    assert expected in text
    assert ".." not in text  # "10 a.m." ends the sentence once


def test_no_space_a_phone_cannot_show_plainly() -> None:
    # CLDR writes a narrow no-break space before AM/PM; it would make the text UCS-2.
    for language in Language:
        day, time = when(datetime(2026, 3, 2, 10, 0), language, "US")  # noqa: DTZ001
        assert gsm7_length(day + time) is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Your ketamine visit", "names 'ketamine'"),
        ("Su cita de ketamina", "names 'ketamina'"),
        ("Spravato day", "names 'spravato'"),
        ("Control de la depresión", "names 'depresion'"),
        ("Cita psiquiátrica", "names 'psiquiatr'"),
        ("Reply CANCEL to stop", "asks for CANCEL"),
        ("Responda CANCELAR para anular", "CANCELAR"),
        ("x" * 161, "over the 160 of 1 segment"),
        ("Café 😊" * 12, "UCS-2 characters (because of '😊')"),
    ],
    ids=[
        "drug",
        "drug-es",
        "brand",
        "diagnosis-es-accented",
        "specialty-es",
        "cancel",
        "cancelar",
        "too-long",
        "emoji",
    ],
)
def test_text_problems_catches_what_must_not_be_sent(text: str, problem: str) -> None:
    assert any(problem in p for p in text_problems(text)), text_problems(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 160, 1),
        ("x" * 161, 2),  # a longer text is split in 153-character parts
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("[" * 80, 1),  # extension characters count twice: 160 septets
        ("[" * 81, 2),
        ("ñé¿¡ü" * 32, 1),  # Spanish letters in the GSM-7 alphabet
        ("á" * 70, 1),  # one character outside GSM-7 makes the whole text UCS-2: 70 a segment
        ("á" * 71, 2),  # then 67 a part
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("😊" * 35, 1),  # an emoji is two UTF-16 units
        ("😊" * 36, 2),
    ],
    ids=[
        "gsm-160", "gsm-161", "gsm-306", "gsm-307", "ext-80", "ext-81", "spanish-gsm",
        "ucs2-70", "ucs2-71", "ucs2-134", "ucs2-135", "emoji-35", "emoji-36",
    ],
)  # fmt: skip
def test_segments_are_counted_in_the_encoding_the_text_needs(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_gsm7_extension_characters_count_double() -> None:
    assert gsm7_length("[]") == 4
    assert gsm7_length("abc") == 3
    assert gsm7_length("€") == 2
    assert gsm7_length("a[b€ [") == 9
    assert gsm7_length("sí") is None
    assert gsm7_length("[sí]") is None


def test_forbidden_words_cover_both_languages() -> None:
    for word in ("ketamine", "esketamine", "spravato", "infusion", "depression"):
        assert word in FORBIDDEN_WORDS[EN]
    for word in ("ketamina", "esketamina", "spravato", "infusion", "depresion", "psiquiatr"):
        assert word in FORBIDDEN_WORDS[ES]


# -- a clinic's own wording --------------------------------------------------------------------


def own(language: str, name: str, text: str) -> Voice:
    return Voice("Oak St Clinic", "(201) 555-0100", "911", "call or text 988", "US",
                 templates=BUILT_IN.replaced({language: {name: text}}))  # fmt: skip


def test_a_clinics_own_template_is_used_and_checked() -> None:
    voice = own("es", "check-in", "Hoy descanse y beba agua. ¿Dudas? {phone}. Emergencias: {emergency}.")
    assert "beba agua" in render("check-in", TextContext(voice, language=ES))
    assert catalogue_problems(voice) == []
    assert voice.templates.replaced_names == {"[es] check-in"}


@pytest.mark.parametrize(
    ("language", "name", "text", "problem"),
    [
        ("en", "confirm", "Visit {fecha} {time}. Reply C or R.", "unknown placeholder {fecha}"),
        (
            "es",
            "check-in",
            "Tras la infusión, descanse. {phone}. Emergencias: {emergency}.",
            "names 'infusion'",
        ),
        (
            "es",
            "prep:iv",
            "Su cita: {day}, {time}. " + "Recuerde venir en ayunas. " * 10,
            "over the 306 of 2",
        ),
        ("es", "prep:iv", "Su cita: {day}, {time}. Traiga líquidos. " * 3, "UCS-2"),
        ("en", "welcome", "{clinic}: Hello! Reply HELP for help.", "must include the word STOP"),
        ("es", "urgent", "{clinic}: Llame al {phone}.", "must include {emergency}"),
        ("en", "confirm", "Visit {day:>20} {time}. Reply C or R.", "formats {day}"),
    ],
    ids=["placeholder", "forbidden-es", "too-long", "ucs2-too-long", "stop-word", "emergency", "format-spec"],
)
def test_a_clinics_own_template_with_a_problem_is_named(
    language: str, name: str, text: str, problem: str
) -> None:
    problems = catalogue_problems(own(language, name, text))
    assert problems, "the template was accepted"
    where, found = problems[0]
    assert where == f"[{language}] {name}"
    assert problem in found


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fr": {"welcome": "Bonjour"}}, "[fr] is not a language"),
        ({"en": {"farewell": "Bye"}}, "[en] farewell is not a template"),
        ({"en": {"welcome": 3}}, "[en] welcome must be a string"),
    ],
)
def test_overrides_for_unknown_languages_or_templates_are_refused(
    overrides: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        BUILT_IN.replaced(overrides)  # type: ignore[arg-type]
