"""The words patients read: every text as a template, how texts share one message, and the checks
every text must pass.

Texts are discreet (no drug, procedure or diagnosis), each fits one GSM-7 segment alone, and they
never ask a patient to reply CANCEL (a carrier opt-out word): C confirms, R asks for a change.
The texts about a course are *parts*: alone, a part is sent as "{clinic}: {part}"; on a day with
several, they share one message, "{clinic}: {part} {part} ...", of at most two segments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

SEGMENT = 160  # GSM-7 characters in a one-segment text
MULTIPART_SEGMENT = 153  # in each segment of a longer one (the rest is the joining header)
UCS2_SEGMENT = 70
UCS2_MULTIPART_SEGMENT = 67
MESSAGE_SEGMENTS = 2  # the most a combined message may use

# Words that must never reach a patient's phone: a lock screen or a shared phone shows them.
FORBIDDEN_WORDS = (
    "ketamine",
    "esketamine",
    "spravato",
    "infusion",
    "depression",
    "depressed",
    "psychiatr",
    "antidepressant",
    "suicid",
    "nasal spray",
    "treatment-resistant",
)

# Texts sent on their own: answers to replies, the welcome, the alert to the on-call person.
MESSAGES: Mapping[str, str] = {
    "welcome": (
        "{clinic}: You're signed up for visit texts, at most 1 a day. "
        "Reply HELP for help, STOP to opt out. Msg&data rates may apply."
    ),
    "help": (
        "{clinic} visit texts. Help: {phone}. Emergency: {emergency}. Crisis support: {crisis}. "
        "Msg&data rates may apply. Reply STOP to opt out."
    ),
    "unrecognised": (
        "{clinic}: This number can't answer medical questions. Please call {phone}. "
        "Emergency: {emergency}. Crisis support: {crisis}."
    ),
    "urgent": (
        "{clinic}: If you are in danger, call {emergency} now. Crisis support: {crisis}. "
        "Our team has been told. You can also call {phone}."
    ),
    "confirmed": "{clinic}: Thanks, you're confirmed for {day} at {time}.",
    "nothing-to-confirm": "{clinic}: We couldn't find an upcoming visit to confirm. Please call {phone}.",
    "change-requested": "{clinic}: Got it. Our team will contact you to find a new time, or call {phone}.",
    "opted-out": (
        "{clinic}: You're unsubscribed and won't get more texts. Reply START to rejoin. "
        "To manage visits call {phone}."
    ),
    "opted-in": "{clinic}: You're subscribed to visit texts again. Reply HELP for help, STOP to opt out.",
    "staff-alert": "{clinic}: Urgent reply from patient {patient}: see Today.",
    "staff-alert-unknown": "{clinic}: Urgent reply from a number that is no patient's: see Today.",
}

# Parts of the texts about a course, without the clinic's name in front.
PARTS: Mapping[str, str] = {
    "confirm": "Your visit is {day} at {time}. Reply C to confirm or R to change it. Questions: {phone}",
    "confirm-ask": "Reply C to confirm or R to change.",
    "prep:iv": (
        "See you {day} {time}. No food 6h before; clear drinks until 2h before. "
        "Get a ride home: no driving until the day after your visit."
    ),
    "prep:nasal": (
        "See you {day} {time}. No food 2h before, no drinks 30 min before. "
        "Plan 2.5h here and a ride home; no driving until the day after."
    ),
    "day-of": (
        "Today at {time}. Please come 15 min early in comfy clothes, with your ride home arranged. "
        "Running late? Call {phone}."
    ),
    "check-in": "Checking in: take it easy today. Questions? Call {phone}. Emergency: {emergency}.",
    "check-in:attended": (
        "Thanks for coming in yesterday. Take it easy today. Questions? Call {phone}. Emergency: {emergency}."
    ),
    "notice:moved": "Your visit has moved to {day} at {time}.",
    "notice:added": "A visit is booked for you on {day} at {time}.",
    "notice:cancelled": "Your visit on {day} at {time} is cancelled.",
}
PLACEHOLDERS = frozenset({"clinic", "phone", "emergency", "crisis", "day", "time", "patient"})


@dataclass(frozen=True)
class Voice:
    """What every text says of the clinic: its name, its number as people write it, and the
    emergency number and crisis line for its country."""

    clinic: str
    phone: str
    emergency: str
    crisis: str


@dataclass(frozen=True)
class TextContext:
    voice: Voice
    start: datetime | None = None  # a session's local wall-clock time
    patient: int | None = None  # a patient's id (only the staff alert names it)

    def at(self, start: datetime | None) -> TextContext:
        return replace(self, start=start)


@dataclass(frozen=True)
class Piece:
    """One part of a message: a template of `PARTS` and the session it speaks of."""

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
    """A text on its own: one of `MESSAGES`, or one part of `PARTS` with the clinic's name."""
    if name in MESSAGES:
        return _fill(MESSAGES[name], ctx)
    return f"{ctx.voice.clinic}: {_fill(PARTS[name], ctx)}"


def combine(ctx: TextContext, pieces: Sequence[Piece]) -> str:
    """One message carrying `pieces` in order, the clinic's name once in front."""
    return f"{ctx.voice.clinic}: " + " ".join(_fill(PARTS[p.template], ctx.at(p.start)) for p in pieces)


def _fill(template: str, ctx: TextContext) -> str:
    day = time = ""
    if ctx.start is not None:
        day = f"{ctx.start:%a %b} {ctx.start.day}"
        hour = ctx.start.hour % 12 or 12
        suffix = "am" if ctx.start.hour < 12 else "pm"
        time = f"{hour}{suffix}" if ctx.start.minute == 0 else f"{hour}:{ctx.start:%M}{suffix}"
    voice = ctx.voice
    return template.format(
        clinic=voice.clinic,
        phone=voice.phone,
        emergency=voice.emergency,
        crisis=voice.crisis,
        day=day,
        time=time,
        patient="" if ctx.patient is None else ctx.patient,
    )


# GSM 03.38: the basic set counts one character, the extension set two (escape + char).
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"


def gsm7_length(text: str) -> int | None:
    """Length in GSM-7 septets, or None if `text` needs UCS-2 (which halves the segment)."""
    length = 0
    for char in text:
        if char in _GSM_BASIC:
            length += 1
        elif char in _GSM_EXTENDED:
            length += 2
        else:
            return None
    return length


def segments(text: str) -> int:
    """How many SMS segments `text` is sent as, in the encoding it needs (GSM-7, else UCS-2)."""
    septets = gsm7_length(text)
    if septets is not None:
        return 1 if septets <= SEGMENT else -(-septets // MULTIPART_SEGMENT)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= UCS2_SEGMENT else -(-units // UCS2_MULTIPART_SEGMENT)


def text_problems(text: str, *, max_segments: int = 1) -> list[str]:
    """Why `text` must not be sent to a patient as it is (empty when it is fine)."""
    problems = []
    length = gsm7_length(text)
    if length is None:
        problems.append("needs characters outside GSM-7")
    elif segments(text) > max_segments:
        limit = SEGMENT if max_segments == 1 else MULTIPART_SEGMENT * max_segments
        problems.append(f"is {length} GSM-7 characters, over {limit}")
    lowered = text.lower()
    problems.extend(f"names {word!r}" for word in FORBIDDEN_WORDS if word in lowered)
    if re.search(r"\breply\s+cancel\b", lowered):
        problems.append("asks for CANCEL, a carrier opt-out word")
    return problems
