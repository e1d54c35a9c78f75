"""An SMS text within a budget of segments (3GPP TS 23.038): a text entirely in the GSM 7-bit
alphabet fits 160 septets in one segment, 153 per segment when split; anything else (Cyrillic)
is UCS-2: 70 characters, 67 per segment. A longer text is cut, with an ellipsis that keeps it
in its alphabet ("..." in GSM 7-bit, "…" otherwise)."""

from __future__ import annotations

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"  # an escape septet plus the character: two septets each
_GSM = frozenset(GSM_BASIC) | frozenset(GSM_EXTENDED)
GSM_SINGLE, GSM_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


def is_gsm(text: str) -> bool:
    return all(ch in _GSM for ch in text)


def _cost(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in GSM_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1  # a surrogate pair


def units(text: str) -> int:
    """Septets (GSM 7-bit) or UTF-16 code units (UCS-2) the text takes."""
    gsm = is_gsm(text)
    return sum(_cost(ch, gsm) for ch in text)


def budget(gsm: bool, max_segments: int) -> int:
    if gsm:
        return GSM_SINGLE if max_segments == 1 else GSM_PART * max_segments
    return UCS2_SINGLE if max_segments == 1 else UCS2_PART * max_segments


def segments(text: str) -> int:
    gsm, used = is_gsm(text), units(text)
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    return 1 if used <= single else -(-used // part)


def fit(text: str, max_segments: int) -> str:
    """``text`` if it fits ``max_segments``, else its head and an ellipsis that do."""
    gsm = is_gsm(text)
    limit = budget(gsm, max_segments)
    if units(text) <= limit:
        return text
    ellipsis = "..." if gsm else "…"
    room, used, cut = limit - units(ellipsis), 0, 0
    for index, ch in enumerate(text):
        used += _cost(ch, gsm)
        if used > room:
            break
        cut = index + 1
    return text[:cut].rstrip() + ellipsis


def sms_text(subject: str, body: str) -> str:
    """The subject line, then the body, like a Telegram message; either may be empty."""
    return "\n".join(part for part in (subject.strip(), body.strip()) if part)
