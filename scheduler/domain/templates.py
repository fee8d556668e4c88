"""The words patients read: the templates of each language (built in, or replaced by the clinic),
how texts share one message, sessions' days and times as the patient's language and the clinic's
country write them, and the checks every text passes before it is used.

Texts are discreet (no drug, procedure or diagnosis, in any language), fit their segment limit in
the encoding they will really be sent in, and never ask a patient to reply with a carrier opt-out
word (CANCEL, CANCELAR): C confirms, R asks for a change.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING

from scheduler.domain import wording
from scheduler.domain.encoding import capacity, encoding_of, gsm7_length, length_of, segments
from scheduler.domain.states import Language

if TYPE_CHECKING:
    from babel import Locale

__all__ = ["gsm7_length", "segments"]


@dataclass(frozen=True)
class Limits:
    """The most segments a text may take alone, and a message that carries several."""

    alone: int
    combined: int


# Spanish runs about a quarter longer than English, and a Saturday's "sáb" makes a text UCS-2.
LIMITS: Mapping[Language, Limits] = {Language.EN: Limits(1, 2), Language.ES: Limits(2, 3)}

# Words that must never reach a patient's phone: a lock screen or a shared phone shows them.
# Matched without accents or case, in every text whatever its language.
FORBIDDEN_WORDS: Mapping[Language, tuple[str, ...]] = {
    Language.EN: (
        "ketamine", "esketamine", "spravato", "infusion", "depression", "depressed", "psychiatr",
        "antidepressant", "suicid", "nasal spray", "treatment-resistant",
    ),
    Language.ES: (
        "ketamina", "esketamina", "spravato", "infusion", "depresion", "deprimid", "psiquiatr",
        "antidepresiv", "suicid", "spray nasal", "espray nasal", "aerosol nasal", "tratamiento resistente",
        "resistente al tratamiento",
    ),
}  # fmt: skip
PLACEHOLDERS = frozenset({"clinic", "phone", "emergency", "crisis", "day", "time", "patient"})
# What a template must keep, whoever wrote it: the numbers to call, the session it speaks of, the
# words that answer it. Stop and help words are the language's own.
_NEEDS: Mapping[str, tuple[str, ...]] = {
    "welcome": ("{stop}", "{help}"),
    "help": ("{phone}", "{emergency}", "{crisis}", "{stop}"),
    "unrecognised": ("{phone}", "{emergency}", "{crisis}"),
    "urgent": ("{emergency}", "{crisis}"),
    "confirmed": ("{day}", "{time}"),
    "opted-out": ("START",),
    "confirm": ("{day}", "{time}", " C ", " R "),
    "confirm-ask": (" C ", " R "),
    "prep:iv": ("{day}", "{time}"),
    "prep:nasal": ("{day}", "{time}"),
    "day-of": ("{time}",),
    "check-in": ("{phone}", "{emergency}"),
    "check-in:attended": ("{phone}", "{emergency}"),
    "notice:moved": ("{day}", "{time}"),
    "notice:added": ("{day}", "{time}"),
    "notice:cancelled": ("{day}", "{time}"),
}
_KEYWORDS: Mapping[Language, Mapping[str, str]] = {
    Language.EN: {"{stop}": "STOP", "{help}": "HELP"},
    Language.ES: {"{stop}": "PARAR", "{help}": "AYUDA"},
}


class TemplateError(ValueError):
    """A template that must not be used; the message names it and says why."""


@dataclass(frozen=True)
class Catalogue:
    """The templates in use: per language, the texts sent alone and the parts of course texts."""

    messages: Mapping[Language, Mapping[str, str]] = field(default_factory=lambda: wording.MESSAGES)
    parts: Mapping[Language, Mapping[str, str]] = field(default_factory=lambda: wording.PARTS)
    staff: Mapping[str, str] = field(default_factory=lambda: wording.STAFF_MESSAGES)
    replaced_names: frozenset[str] = frozenset()  # "[es] prep:iv": the clinic's own wording

    def names(self) -> list[str]:
        return [*wording.MESSAGES[Language.EN], *wording.PARTS[Language.EN]]

    def template(self, language: Language, name: str) -> str:
        if name in self.staff:
            return self.staff[name]
        found = self.messages[language].get(name)
        return found if found is not None else self.parts[language][name]

    def is_part(self, name: str) -> bool:
        return name in wording.PARTS[Language.EN]

    def replaced(self, overrides: Mapping[str, Mapping[str, str]]) -> Catalogue:
        """These templates with some replaced: {language: {template name: text}}. Raises
        TemplateError for an unknown language or template, or a text that is not a string."""
        messages = {lang: dict(texts) for lang, texts in self.messages.items()}
        parts = {lang: dict(texts) for lang, texts in self.parts.items()}
        names = set(self.replaced_names)
        for code, texts in overrides.items():
            if code not in Language.__members__.values():
                known = ", ".join(Language)
                raise TemplateError(f"[{code}] is not a language the service speaks ({known})")
            language = Language(code)
            for name, text in texts.items():
                where = f"[{code}] {name}"
                if not isinstance(text, str):
                    raise TemplateError(f"{where} must be a string")
                if name in messages[language]:
                    messages[language][name] = text
                elif name in parts[language]:
                    parts[language][name] = text
                else:
                    raise TemplateError(
                        f"{where} is not a template; the templates are {', '.join(self.names())}"
                    )
                names.add(where)
        return replace(self, messages=messages, parts=parts, replaced_names=frozenset(names))


BUILT_IN = Catalogue()


@dataclass(frozen=True)
class Voice:
    """What every text says of the clinic: its name, its number as people write it, the emergency
    number and crisis line for its country (with the crisis line in other languages where the
    default has a translation), the country whose conventions dates follow, and the templates."""

    clinic: str
    phone: str
    emergency: str
    crisis: str
    region: str = "US"
    crisis_translated: Mapping[Language, str] = field(default_factory=dict)
    templates: Catalogue = BUILT_IN

    def crisis_in(self, language: Language) -> str:
        return self.crisis_translated.get(language, self.crisis)


@dataclass(frozen=True)
class TextContext:
    voice: Voice
    start: datetime | None = None  # a session's local wall-clock time
    patient: int | None = None  # a patient's id (only the staff alert names it)
    language: Language = Language.EN

    def at(self, start: datetime | None) -> TextContext:
        return replace(self, start=start)


@dataclass(frozen=True)
class Piece:
    """One part of a message: a template of the parts and the session it speaks of."""

    template: str
    start: datetime | None = None


def part_name(kind: str, family: str, *, attended: bool = False) -> str:
    """The template of a course text: preparation by protocol family, check-in by attendance."""
    if kind == "prep":
        return f"prep:{family}"
    if kind == "check-in" and attended:
        return "check-in:attended"
    return kind


def render(name: str, ctx: TextContext) -> str:
    """A text on its own: a message, a staff text, or one part with the clinic's name in front."""
    templates = ctx.voice.templates
    if templates.is_part(name):
        return f"{ctx.voice.clinic}: {_fill(templates.template(ctx.language, name), ctx)}"
    return _fill(templates.template(ctx.language, name), ctx)


def combine(ctx: TextContext, pieces: Sequence[Piece]) -> str:
    """One message carrying `pieces` in order, the clinic's name once in front."""
    templates = ctx.voice.templates
    said = (_fill(templates.template(ctx.language, p.template), ctx.at(p.start)) for p in pieces)
    return f"{ctx.voice.clinic}: " + " ".join(said)


def fits(ctx: TextContext, pieces: Sequence[Piece]) -> bool:
    """Whether `pieces` fit one message in the language's combined limit."""
    return segments(combine(ctx, pieces)) <= LIMITS[ctx.language].combined


def _fill(template: str, ctx: TextContext) -> str:
    day = time = ""
    if ctx.start is not None:
        day, time = when(ctx.start, ctx.language, ctx.voice.region)
    voice = ctx.voice
    if time.endswith("."):  # "10 a.m." ends a sentence once: "{time}." would end it twice
        template = template.replace("{time}.", "{time}")
    return template.format(
        clinic=voice.clinic,
        phone=voice.phone,
        emergency=voice.emergency,
        crisis=voice.crisis_in(ctx.language),
        day=day,
        time=time,
        patient="" if ctx.patient is None else ctx.patient,
    )


def when(start: datetime, language: Language, region: str) -> tuple[str, str]:
    """A session's day and time as the language writes them in the clinic's country: "Mon, Mar 9"
    and "10 AM" in the US, "9 de marzo" and "10 a.m." in Spanish there, "Mon 9 Mar" and "10:00" in
    Britain. Formatted by Babel from the locale's own patterns."""
    return _day(start.date(), language, region), _time(start.hour, start.minute, language, region)


# The day is written from the date alone and the time from the hour and minute alone, so each is
# formatted once however many sessions share it.
@cache
def _day(day: date, language: Language, region: str) -> str:
    from babel.dates import format_skeleton

    midnight = datetime(day.year, day.month, day.day)  # noqa: DTZ001 (a wall-clock time)
    return _plain(format_skeleton(_DAY_SKELETONS[language], midnight, locale=_locale(language, region)))


@cache
def _time(hour: int, minute: int, language: Language, region: str) -> str:
    from babel.dates import format_skeleton

    locale = _locale(language, region)
    twelve_hour = "a" in locale.time_formats["short"].pattern
    skeleton = ("h" if minute == 0 else "hm") if twelve_hour else "Hm"
    any_day = datetime(2000, 1, 3, hour, minute)  # noqa: DTZ001 (a wall-clock time)
    return _plain(format_skeleton(skeleton, any_day, locale=locale))


# English names the weekday ("Mon, Mar 9"). Spanish gives the day and the whole month ("9 de
# marzo"): its weekday abbreviations include "sáb", whose "á" would send every Saturday text as
# UCS-2, at less than half the length.
_DAY_SKELETONS: Mapping[Language, str] = {Language.EN: "MMMEd", Language.ES: "MMMMd"}


@cache
def _locale(language: Language, region: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(f"{language}_{region}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(str(language))


def _plain(text: str) -> str:
    # CLDR puts narrow and no-break spaces inside dates and times; on a phone they are spaces,
    # and outside GSM-7 they would turn the whole text into UCS-2.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def _unaccented(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


_ALL_FORBIDDEN = tuple(dict.fromkeys(w for words in FORBIDDEN_WORDS.values() for w in words))


def text_problems(text: str, *, max_segments: int = 1) -> list[str]:
    """Why `text` must not be sent to a patient as it is (empty when it is fine)."""
    problems = []
    if segments(text) > max_segments:
        encoding = encoding_of(text)
        because = ""
        if gsm7_length(text) is None:
            odd = next(c for c in text if gsm7_length(c) is None)
            because = f" (because of {odd!r})"
        limit = capacity(encoding, max_segments)
        problems.append(
            f"is {length_of(text)} {encoding} characters{because}, over the {limit} of "
            f"{max_segments} segment{'s' if max_segments > 1 else ''}"
        )
    plain = _unaccented(text)
    problems.extend(f"names {word!r}" for word in _ALL_FORBIDDEN if word in plain)
    if re.search(r"\b(reply|responda|envie)\s+(cancel|cancelar)\b", plain):
        problems.append("asks for CANCEL or CANCELAR, carrier opt-out words")
    return problems


def placeholder_problems(name: str, template: str, language: Language) -> list[str]:
    """What is wrong with a template's placeholders and the words it must keep."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return [f"is not a valid template ({exc}); write a literal brace as {{{{ or }}}}"]
    problems = []
    for found, spec, conv in fields:
        if found not in PLACEHOLDERS or found == "patient":
            problems.append(f"has an unknown placeholder {{{found}}}; use {_placeholder_list()}")
        elif spec or conv:
            problems.append(f"formats {{{found}}}; write placeholders plainly, as {{{found}}}")
    for needed in _NEEDS.get(name, ()):
        word = _KEYWORDS[language].get(needed, needed)
        if word.startswith("{") and word not in template:
            problems.append(f"must include {word}")
        elif not word.startswith("{") and word.strip() not in re.findall(r"[A-Za-z]+", template):
            problems.append(f"must include the word {word.strip()}")
    return problems


def _placeholder_list() -> str:
    return ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS - {"patient"}))


def widest_days(language: Language, region: str) -> list[datetime]:
    """Sessions whose day and time are the longest to write, in each encoding the day may need:
    every weekday and month tried, at 12:45 (the widest time)."""
    candidates = [datetime(2026, month, day, 12, 45) for month in range(1, 13) for day in range(22, 29)]  # noqa: DTZ001
    best: dict[str, tuple[int, datetime]] = {}
    for start in candidates:
        day, time = when(start, language, region)
        text = f"{day} {time}"
        key = str(encoding_of(text))
        size = length_of(text)
        if key not in best or size > best[key][0]:
            best[key] = (size, start)
    return [start for _, start in best.values()]


def catalogue_problems(
    voice: Voice, languages: Iterable[Language] = tuple(Language)
) -> list[tuple[str, str]]:
    """Every problem of the voice's templates, as (template, problem): placeholders, discretion
    and segment limits with the clinic's own name, number and lines, the widest days and the
    widest patient id; and a check-in sharing a message with a preparation that asks to confirm.
    A template is named as "[es] prep:iv"."""
    templates = voice.templates
    problems: list[tuple[str, str]] = []
    for language in languages:
        limits = LIMITS[language]
        days = widest_days(language, voice.region)
        count = len(problems)
        for name in templates.names():
            where = f"[{language}] {name}"
            found = placeholder_problems(name, templates.template(language, name), language)
            for start in days if not found else ():
                found = text_problems(
                    render(name, TextContext(voice, start, language=language)), max_segments=limits.alone
                )
                if found:
                    break
            problems.extend((where, problem) for problem in found)
        if len(problems) > count:
            continue
        for family in ("iv", "nasal"):
            for start in days:
                day = [
                    Piece("check-in:attended", start),
                    Piece(f"prep:{family}", start),
                    Piece("confirm-ask"),
                ]
                text = combine(TextContext(voice, language=language), day)
                found = text_problems(text, max_segments=limits.combined)
                if found:
                    problems.append((f"[{language}] check-in:attended with prep:{family}", found[0]))
                    break
    for name in templates.staff:
        ctx = TextContext(voice, patient=2_147_483_647)
        problems.extend((f"[staff] {name}", p) for p in text_problems(render(name, ctx)))
    return problems
