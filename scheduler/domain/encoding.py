"""How long a text is on the wire: GSM-7 (with its extension table) when every character allows it,
else UCS-2, and how many SMS segments that makes.

A GSM-7 segment holds 160 septets, 153 in each part of a longer text; an extension character
(`€`, `[`, `{`, ...) takes two. One character outside GSM-7 (`á`, `í`, `ó`, `ú`, an emoji) sends the
whole text as UCS-2: 70 UTF-16 units a segment, 67 in each part of a longer one.
"""

from __future__ import annotations

from enum import StrEnum

GSM7_SEGMENT = 160
GSM7_MULTIPART_SEGMENT = 153
UCS2_SEGMENT = 70
UCS2_MULTIPART_SEGMENT = 67

# GSM 03.38: the basic set counts one septet, the extension set two (escape + character).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
_GSM_ALL = _GSM_BASIC | _GSM_EXTENDED


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def gsm7_length(text: str) -> int | None:
    """Length in GSM-7 septets, or None if `text` needs UCS-2."""
    chars = set(text)
    if chars <= _GSM_BASIC:
        return len(text)
    if not chars <= _GSM_ALL:
        return None
    # An extension character takes two septets: one more than the character itself.
    return len(text) + sum(text.count(c) for c in chars & _GSM_EXTENDED)


def encoding_of(text: str) -> Encoding:
    return Encoding.GSM7 if gsm7_length(text) is not None else Encoding.UCS2


def length_of(text: str) -> int:
    """Length in the units of the text's encoding: septets, or UTF-16 code units."""
    septets = gsm7_length(text)
    return septets if septets is not None else len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many SMS segments `text` is sent as, in the encoding it needs."""
    length = gsm7_length(text)
    if length is not None:
        single, multi = GSM7_SEGMENT, GSM7_MULTIPART_SEGMENT
    else:
        single, multi = UCS2_SEGMENT, UCS2_MULTIPART_SEGMENT
        length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= single else -(-length // multi)


def capacity(encoding: Encoding, count: int) -> int:
    """The most units `count` segments hold in `encoding`."""
    if encoding is Encoding.GSM7:
        return GSM7_SEGMENT if count == 1 else GSM7_MULTIPART_SEGMENT * count
    return UCS2_SEGMENT if count == 1 else UCS2_MULTIPART_SEGMENT * count
