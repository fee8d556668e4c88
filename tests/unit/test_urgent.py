"""Replies that read as a safety concern, as patients write them, and the near misses that must not
page the on-call person."""

from __future__ import annotations

import pytest

from scheduler.domain.replies import keyword, read_reply
from scheduler.domain.states import Language, ReplyIntent
from scheduler.domain.urgent import is_urgent, urgent_language

URGENT = [
    "I feel really awful and dizzy",
    "i want to kill myself",
    "I want to kil myself tonight",
    "thinking about suicide",
    "Im feeling suicidal",
    "suicdal thoughts again",
    "I don't want to live anymore",
    "I just want to end it all",
    "I hurt myself",
    "been self harming again",
    "I took too many pills",
    "I think I overdosed",
    "chest pain since the visit",
    "my chest hurts",
    "I can't breathe",
    "cant breath",
    "I cannnot breathe!!",
    "having trouble breathing",
    "short of breath",
    "I fainted at home",
    "feel faint",
    "I passed out",
    "I think I'm having an allergic reaction",
    "my throat is closing up",
    "hives all over",
    "EMERGENCY",
    "emergancy please call",
    "Called 911",
    "I'm in danger",
]

URGENT_ES = [
    "Quiero morirme",
    "ya no quiero vivir",
    "pienso en el suicidio",
    "me quiero matar",
    "quiero hacerme daño",
    "me tomé demasiadas pastillas",
    "creo que tomé una sobredosis",
    "me duele el pecho desde la cita",
    "No puedo respirar",
    "me falta el aire",
    "me desmayé en casa",
    "estoy muy mareada",
    "tuve una convulsión",
    "creo que es una reacción alérgica",
    "se me cierra la garganta",
    "EMERGENCIA",
    "llamé a la ambulancia",
    "estoy en peligro",
]

NOT_URGENT_ES = [
    "Sí",
    "Llego 10 minutos tarde",
    "¿Hay estacionamiento cerca?",
    "gracias, nos vemos",
    "Quiero cambiar mi contacto de emergencia",
    "no es una emergencia, pero llámenme",
    "me corté el pelo, ¿importa?",
    "no quiero seguir recibiendo mensajes",
]

NOT_URGENT = [
    "hello?",
    "Running 10 min late",
    "Can I bring my dog to the next one?",
    "Is there parking near the clinic?",
    "thanks, see you then",
    "I passed my exam!",
    "killing time in the lobby",
    "what skills do I need for the forms",
    "Is the emergency exit near the parking?",
    "Please update my emergency contact",
    "not an emergency but can you call me",
    "I am allergic to latex, just so you know",
    "C",
    "R",
]


@pytest.mark.parametrize("text", URGENT)
def test_a_reply_that_reads_as_a_safety_concern_is_urgent(text: str) -> None:
    assert is_urgent(text)


@pytest.mark.parametrize("text", NOT_URGENT)
def test_a_near_miss_is_not(text: str) -> None:
    assert not is_urgent(text)


@pytest.mark.parametrize("text", URGENT_ES)
def test_a_spanish_reply_that_reads_as_a_safety_concern_is_urgent_and_spanish(text: str) -> None:
    assert urgent_language(text) is Language.ES


@pytest.mark.parametrize("text", NOT_URGENT_ES)
def test_a_spanish_near_miss_is_not(text: str) -> None:
    assert not is_urgent(text)


def test_an_english_concern_is_answered_in_english() -> None:
    assert urgent_language("I can't breathe") is Language.EN


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("Sí", ReplyIntent.CONFIRM),
        ("si", ReplyIntent.CONFIRM),
        ("¡SÍ!", ReplyIntent.CONFIRM),
        ("C", ReplyIntent.CONFIRM),
        ("CAMBIAR", ReplyIntent.CHANGE),
        ("r", ReplyIntent.CHANGE),
        ("AYUDA", ReplyIntent.HELP),
        ("PARAR", ReplyIntent.STOP),
        ("Baja", ReplyIntent.STOP),
        ("ALTO", ReplyIntent.STOP),
        ("cancelar", ReplyIntent.STOP),
        ("STOP", ReplyIntent.STOP),
        ("sí, pero más tarde", ReplyIntent.OTHER),
    ],
)
def test_keywords_are_read_in_english_and_spanish(body: str, intent: ReplyIntent) -> None:
    assert read_reply(body, opted_out=False) is intent


def test_keywords_are_compared_without_accents_or_punctuation() -> None:
    assert keyword(" ¿Sí? ") == "SI"
