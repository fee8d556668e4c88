"""Replies that read as a safety concern, as patients write them, and the near misses that must not
page the on-call person."""

from __future__ import annotations

import pytest

from scheduler.domain.urgent import is_urgent

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
