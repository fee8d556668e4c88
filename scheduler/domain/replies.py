"""Reading a patient's reply: which keyword it is, if any, in English or Spanish. Anything else is
kept for staff."""

from __future__ import annotations

import unicodedata

from scheduler.domain.states import Language, ReplyIntent

# Carriers and Twilio treat these as opt-out, opt-in and help words: they must always work, and
# Twilio answers them itself.
CARRIER_STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
CARRIER_START_WORDS = frozenset({"START", "UNSTOP"})
CARRIER_WORDS = CARRIER_STOP_WORDS | CARRIER_START_WORDS | {"HELP", "INFO"}

# The words of each language (compared without accents: "SÍ" is "SI").
WORDS: dict[Language, dict[ReplyIntent, frozenset[str]]] = {
    Language.EN: {
        ReplyIntent.STOP: CARRIER_STOP_WORDS,
        ReplyIntent.START: CARRIER_START_WORDS,
        ReplyIntent.HELP: frozenset({"HELP", "INFO"}),
        ReplyIntent.CONFIRM: frozenset({"C", "CONFIRM", "Y", "YES"}),
        ReplyIntent.CHANGE: frozenset({"R", "RESCHEDULE", "CHANGE"}),
    },
    Language.ES: {
        ReplyIntent.STOP: frozenset({"PARAR", "BAJA", "ALTO", "CANCELAR"}),
        ReplyIntent.START: frozenset(),
        ReplyIntent.HELP: frozenset({"AYUDA"}),
        ReplyIntent.CONFIRM: frozenset({"SI", "CONFIRMAR", "CONFIRMO"}),
        ReplyIntent.CHANGE: frozenset({"CAMBIAR", "CAMBIO"}),
    },
}
_ANY = {
    intent: frozenset().union(*(words[intent] for words in WORDS.values())) for intent in WORDS[Language.EN]
}


def keyword(body: str) -> str:
    """The reply as one word would be compared: trimmed, without punctuation or accents, upper case."""
    word = body.strip().strip(".!?¡¿,;:'\" ")
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().upper()


def read_reply(body: str, *, opted_out: bool, opt_out_type: str | None = None) -> ReplyIntent:
    """The intent of an inbound text. Twilio's `OptOutType` (Advanced Opt-Out) wins when given;
    YES opts a patient back in only when they are opted out, and confirms otherwise."""
    if opt_out_type:
        typed = {"STOP": ReplyIntent.STOP, "START": ReplyIntent.START, "HELP": ReplyIntent.HELP}
        if opt_out_type.upper() in typed:
            return typed[opt_out_type.upper()]
    word = keyword(body)
    if word in _ANY[ReplyIntent.STOP]:
        return ReplyIntent.STOP
    if word in _ANY[ReplyIntent.START] or (opted_out and word == "YES"):
        return ReplyIntent.START
    if word in _ANY[ReplyIntent.HELP]:
        return ReplyIntent.HELP
    if opted_out:
        return ReplyIntent.OTHER
    if word in _ANY[ReplyIntent.CONFIRM]:
        return ReplyIntent.CONFIRM
    if word in _ANY[ReplyIntent.CHANGE]:
        return ReplyIntent.CHANGE
    return ReplyIntent.OTHER


def answered_by_carrier(body: str, opt_out_type: str | None = None) -> bool:
    """Whether Twilio answers this reply itself (a carrier keyword, or Advanced Opt-Out's)."""
    return bool(opt_out_type) or keyword(body) in CARRIER_WORDS
