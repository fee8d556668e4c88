"""The words patients read: every text as a template, and the checks every text must pass.

Texts are discreet (no drug, procedure or diagnosis), fit one GSM-7 segment, and never ask a
patient to reply CANCEL (a carrier opt-out word): C confirms, R asks for a change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

SEGMENT_LIMIT = 160

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

TEMPLATES: Mapping[str, str] = {
    "welcome": (
        "{clinic}: You're signed up for visit texts, about 2 per visit. "
        "Reply HELP for help, STOP to opt out. Msg&data rates may apply."
    ),
    "confirm": (
        "{clinic}: Your visit is {day} at {time}. Reply C to confirm or R to change it. Questions: {phone}"
    ),
    "prep:iv": (
        "{clinic}: See you {day} {time}. No food 6h before; clear drinks OK till 2h before. "
        "Get a ride home, no driving till tomorrow. Plan a calm day."
    ),
    "prep:nasal": (
        "{clinic}: See you {day} {time}. No food 2h before, no drinks 30 min before. "
        "Plan 2.5h with us and a ride home, no driving till tomorrow."
    ),
    "day-of": (
        "{clinic}: Today at {time}. Please come 15 min early in comfy clothes with your ride "
        "arranged. Running late? Call {phone}"
    ),
    "check-in": (
        "{clinic}: Thanks for coming in. Take it easy today. Questions? Call {phone}. "
        "Emergency: 911. Crisis support: call or text 988."
    ),
    "help": (
        "{clinic} visit texts. Help: {phone}. Emergency: 911. Crisis: call or text 988. "
        "Msg&data rates may apply. Reply STOP to opt out."
    ),
    "unrecognised": (
        "{clinic}: This number can't answer medical questions. Please call {phone}. "
        "Emergency: 911. Crisis support: call or text 988."
    ),
    "confirmed": "{clinic}: Thanks, you're confirmed for {day} at {time}.",
    "nothing-to-confirm": ("{clinic}: We couldn't find an upcoming visit to confirm. Please call {phone}."),
    "change-requested": ("{clinic}: Got it. Our team will contact you to find a new time, or call {phone}."),
    "opted-out": (
        "{clinic}: You're unsubscribed and won't get more texts. Reply START to rejoin. "
        "To manage visits call {phone}."
    ),
    "opted-in": "{clinic}: You're subscribed to visit texts again. Reply HELP for help, STOP to opt out.",
}


@dataclass(frozen=True)
class TextContext:
    clinic: str
    phone: str  # already formatted for reading
    start: datetime | None = None  # the session's local wall-clock time


def template_name(kind: str, family: str) -> str:
    return f"prep:{family}" if kind == "prep" else kind


def render(name: str, ctx: TextContext) -> str:
    template = TEMPLATES[name]
    day = time = ""
    if ctx.start is not None:
        day = f"{ctx.start:%a %b} {ctx.start.day}"
        hour = ctx.start.hour % 12 or 12
        suffix = "am" if ctx.start.hour < 12 else "pm"
        time = f"{hour}{suffix}" if ctx.start.minute == 0 else f"{hour}:{ctx.start:%M}{suffix}"
    return template.format(clinic=ctx.clinic, phone=ctx.phone, day=day, time=time)


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


def text_problems(text: str) -> list[str]:
    """Why `text` must not be sent to a patient as it is (empty when it is fine)."""
    problems = []
    length = gsm7_length(text)
    if length is None:
        problems.append("needs characters outside GSM-7")
    elif length > SEGMENT_LIMIT:
        problems.append(f"is {length} GSM-7 characters, over {SEGMENT_LIMIT}")
    lowered = text.lower()
    problems.extend(f"names {word!r}" for word in FORBIDDEN_WORDS if word in lowered)
    if re.search(r"\breply\s+cancel\b", lowered):
        problems.append("asks for CANCEL, a carrier opt-out word")
    return problems
