"""Reading a patient's reply: which keyword it is, if any. Anything else is kept for staff."""

from __future__ import annotations

from scheduler.domain.states import ReplyIntent

# Carriers and Twilio treat these as opt-out and opt-in words: they must always work.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "Y", "YES"})
CHANGE_WORDS = frozenset({"R", "RESCHEDULE", "CHANGE"})


def read_reply(body: str, *, opted_out: bool, opt_out_type: str | None = None) -> ReplyIntent:
    """The intent of an inbound text. Twilio's `OptOutType` (Advanced Opt-Out) wins when given;
    YES opts a patient back in only when they are opted out, and confirms otherwise."""
    if opt_out_type:
        typed = {"STOP": ReplyIntent.STOP, "START": ReplyIntent.START, "HELP": ReplyIntent.HELP}
        if opt_out_type.upper() in typed:
            return typed[opt_out_type.upper()]
    word = body.strip().strip(".!?,;:'\" ").upper()
    if word in STOP_WORDS:
        return ReplyIntent.STOP
    if word in START_WORDS or (opted_out and word == "YES"):
        return ReplyIntent.START
    if word in HELP_WORDS:
        return ReplyIntent.HELP
    if opted_out:
        return ReplyIntent.OTHER
    if word in CONFIRM_WORDS:
        return ReplyIntent.CONFIRM
    if word in CHANGE_WORDS:
        return ReplyIntent.CHANGE
    return ReplyIntent.OTHER
