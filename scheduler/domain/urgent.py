"""Replies that read as a safety concern: one table of phrases per language, easy to extend.

A match is not a diagnosis: it means a person should read the reply now. Matching is on whole
words of the reply, lower-cased, with punctuation and repeated letters tidied, so "cant breathe",
"can't breathe!!" and "cannnot breathe" all match. Common misspellings are in the table itself.
False alarms cost a look from staff; a miss could cost far more, so the table leans wide.
"""

from __future__ import annotations

import re
import unicodedata

from scheduler.domain.states import Language

# Each phrase is a sequence of words; a word ending in "*" matches any word starting with it.
# Written as they are matched: lower case, without accents ("dano" matches "daño").
URGENT_PHRASES: dict[Language, tuple[str, ...]] = {
    Language.EN: (
        # self-harm and suicide
        "suicid*", "suicd*", "suicde*", "sucid*", "sucide*", "suiside*", "suiced*",
        "kill myself", "kill my self", "killing myself", "kil myself", "kms",
        "end my life", "end it all", "ending it all", "take my life", "took my life",
        "want to die", "wanna die", "wish i was dead", "wish i were dead", "better off dead",
        "dont want to live", "do not want to live", "dont want to be alive", "no reason to live",
        "hurt myself", "hurting myself", "harm myself", "harming myself", "self harm*", "selfharm*",
        "cut myself", "cutting myself", "overdose*", "overdosed", "took too many pills", "too many pills",
        # chest and breathing
        "chest pain*", "chest hurts", "chest is hurting", "chest tight*", "pain in my chest",
        "cant breathe", "cant breath", "cannot breathe", "cannot breath", "can not breathe",
        "trouble breathing", "difficulty breathing", "hard to breathe", "hard to breath",
        "short of breath", "shortness of breath", "struggling to breathe", "not breathing",
        "heart attack", "having a stroke", "had a stroke",
        # fainting
        "faint*", "fainted", "passed out", "passing out", "pass out", "blacked out", "blacking out",
        "unconscious", "collapsed", "seizure*", "dizzy", "dizy", "dizziness",
        # allergic reactions
        "allergic reaction", "alergic reaction", "anaphyla*", "throat closing", "throat is closing",
        "throat swelling", "throat is swelling", "tongue swelling", "face swelling", "hives",
        # plain alarm
        "emergency", "emergancy", "emergeny", "911", "ambulance", "in danger",
    ),
    Language.ES: (
        # autolesion y suicidio
        "suicid*", "suisid*", "matarme", "me quiero matar", "me voy a matar", "quitarme la vida",
        "me quiero morir", "quiero morir*", "me voy a morir", "no quiero vivir", "no quiero seguir viviendo",
        "acabar con mi vida", "terminar con mi vida", "acabar con todo", "mejor muert*",
        "hacerme dano", "lastimarme", "cortarme las venas", "sobredosis", "demasiadas pastillas",
        "muchas pastillas",
        # pecho y respiracion
        "dolor de pecho", "dolor en el pecho", "me duele el pecho", "opresion en el pecho",
        "no puedo respirar", "me cuesta respirar", "me falta el aire", "falta de aire",
        "dificultad para respirar", "me ahogo", "ataque al corazon", "infarto", "derrame",
        # desmayos
        "desmay*", "perdi el conocimiento", "inconsciente", "convulsion*", "mareo*", "maread*",
        # reacciones alergicas
        "reaccion alergica", "se me cierra la garganta", "garganta cerrada", "garganta hinchada",
        "lengua hinchada", "cara hinchada", "ronchas", "urticaria", "anafila*",
        # alarma
        "emergencia*", "ambulancia", "en peligro", "auxilio", "socorro",
    ),
}  # fmt: skip

# Phrases that contain an urgent word but are not a concern; removed before matching.
NOT_URGENT_PHRASES: tuple[str, ...] = (
    "emergency contact*",
    "emergency exit*",
    "not an emergency",
    "no emergency",
    "contacto de emergencia*",
    "contactos de emergencia*",
    "no es una emergencia",
    "no es emergencia",
)

_REPEATS = re.compile(r"(.)\1{2,}")  # a letter typed three times or more counts twice: "cannnot"


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    plain = plain.replace("'", "").replace("\u2019", "")
    plain = _REPEATS.sub(r"\1\1", plain)
    return re.findall(r"[a-z0-9]+", plain)


def _compile(phrase: str) -> list[tuple[str, bool]]:
    return [(word.rstrip("*"), word.endswith("*")) for word in phrase.split()]


_PATTERNS = {lang: [_compile(p) for p in phrases] for lang, phrases in URGENT_PHRASES.items()}
_EXCEPTIONS = [_compile(p) for p in NOT_URGENT_PHRASES]


def _matches(words: list[str], start: int, pattern: list[tuple[str, bool]]) -> bool:
    if start + len(pattern) > len(words):
        return False
    for word, (wanted, prefix) in zip(words[start:], pattern, strict=False):
        if not (word.startswith(wanted) if prefix else word == wanted):
            return False
    return True


def urgent_language(text: str) -> Language | None:
    """The language of the phrases that make a reply read as a safety concern, or None. A phrase
    both languages share ("suicid...") goes to the language the rest of the reply is in."""
    words = _words(text)
    for pattern in _EXCEPTIONS:
        for i in range(len(words)):
            if _matches(words, i, pattern):
                words[i : i + len(pattern)] = ["-"] * len(pattern)
    found = {
        language: sum(1 for pattern in patterns for i in range(len(words)) if _matches(words, i, pattern))
        for language, patterns in _PATTERNS.items()
    }
    if not any(found.values()):
        return None
    marked = {language: sum(1 for w in words if w in _COMMON[language]) for language in found}
    return max(found, key=lambda language: (found[language], marked[language]))


# Short words common in one language and rare in the other, to tell them apart.
_COMMON: dict[Language, frozenset[str]] = {
    Language.EN: frozenset(
        ["i", "im", "the", "my", "to", "and", "is", "am", "have", "feel", "want", "think", "it", "of"]
    ),
    Language.ES: frozenset(
        ["el", "la", "los", "las", "de", "que", "mi", "en", "y", "es", "estoy", "por", "con", "una", "un",
         "muy", "pienso", "quiero"]
    ),
}  # fmt: skip


def is_urgent(text: str) -> bool:
    """Whether a patient's reply reads as a safety concern that a person must see now."""
    return urgent_language(text) is not None
