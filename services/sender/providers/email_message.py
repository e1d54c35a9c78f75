"""Building the MIME message by the RFCs: text + HTML, Message-ID stable across retries.

The standard library does the encoding: an ``EmailMessage`` under ``email.policy.SMTP`` folds
every header at 76 characters (RFC 5322 allows 998 bytes a line), writes non-ASCII text as
RFC 2047 encoded words of at most 75 characters, and ends lines with CRLF. A hand-built header
once put a 500-character Cyrillic subject on a 1,252-byte line with 76-character encoded words.
The headers are one ``EmailMessage`` per mail; the MIME parts another, built once per text.

An address whose local part is not ASCII (``пётр@пример.рф``) exists only under SMTPUTF8
(RFC 6531): the message is then built with ``email.policy.SMTPUTF8``, headers in UTF-8 as they
are; the caller sends it only to a server that offers the extension. An internationalised
domain alone goes out in its IDNA form and needs nothing special. Parts are base64 UTF-8, so
the body never needs 8BITMIME.
"""

from __future__ import annotations

import functools
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from libs.common.delivery.email_address import ascii_form
from services.sender.providers.base import OutgoingMessage

CRLF = b"\r\n"
CACHED_BODY_CHARS = 32 * 1024

# RFC 2047 §2: a line holding encoded words is at most 76 characters, a word at most 75.
# CPython folds at max_line_length and, at the default 78, writes 76-character words.
LINE_CHARS = 76
SMTP = policy.SMTP.clone(max_line_length=LINE_CHARS)
SMTPUTF8 = policy.SMTPUTF8.clone(max_line_length=LINE_CHARS)


class NeedsSmtpUtf8(ValueError):
    """The address can only travel over SMTPUTF8."""


def message_id(delivery_id: int, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">") or "herald.local"
    plain = ascii_form(f"delivery-{delivery_id}@{domain}")  # an IDN domain in IDNA form
    return f"<{plain or f'delivery-{delivery_id}@herald.local'}>"


@functools.lru_cache(maxsize=4096)  # parseaddr is slow; the same addresses come back
def envelope_address(header_value: str) -> str:
    """``Herald <n@x.org>`` → ``n@x.org`` (the SMTP envelope wants the bare address)."""
    address = parseaddr(header_value)[1]
    if not address or "@" not in address or any(c in address for c in "\r\n <>"):
        raise ValueError(f"not an e-mail address: {header_value!r}")
    return address


def needs_smtputf8(*header_values: str) -> bool:
    """True when one of these addresses can only be sent with SMTPUTF8."""
    return any(ascii_form(envelope_address(v)) is None for v in header_values)


def wire_address(header_value: str, utf8: bool) -> str:
    """The bare address as it goes into the SMTP envelope."""
    address = envelope_address(header_value)
    plain = ascii_form(address)
    if plain is None and not utf8:
        raise NeedsSmtpUtf8(f"{address!r} can only be sent with SMTPUTF8")
    return address if utf8 else str(plain)


def _address(header_value: str, utf8: bool, name: str | None = None) -> Address:
    """``name``: the display name instead of the one in ``header_value`` (a tenant's)."""
    if any(c in header_value for c in "\r\n"):
        raise ValueError("CR or LF in an address")
    name = _one_line(name) if name else parseaddr(header_value)[0]
    local, _, domain = wire_address(header_value, utf8).rpartition("@")
    # parts, not addr_spec: the parser calls a UTF-8 local part a defect even under SMTPUTF8
    return Address(display_name=name, username=local, domain=domain)


def _one_line(value: str) -> str:
    return " ".join(value.splitlines())  # a template may leave a newline: never inject


def build_email(msg: OutgoingMessage, sender: str, to: str, *, utf8: bool | None = None) -> bytes:
    """The whole message, CRLF line endings, ready for DATA. ``utf8``: build for SMTPUTF8
    (None: only when an address needs it); False refuses such an address (NeedsSmtpUtf8)."""
    if utf8 is None:
        utf8 = needs_smtputf8(sender, to)
    head = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    head["From"] = _address(sender, utf8, msg.sender_name)
    head["To"] = _address(to, utf8)
    head["Subject"] = _one_line(msg.subject)
    head["Date"] = formatdate(usegmt=True)
    head["Message-ID"] = message_id(msg.delivery_id, sender)
    headers = head.as_bytes()[: -len(CRLF)]  # the header block, without its closing blank line
    return headers + mime_body(msg.body, msg.body_html)


def mime_body(body: str, body_html: str | None) -> bytes:
    """The MIME headers and parts (text, HTML) of a message."""
    if len(body) + len(body_html or "") > CACHED_BODY_CHARS:
        return _mime_body(body, body_html)
    return _cached_mime_body(body, body_html)


def _mime_body(body: str, body_html: str | None) -> bytes:
    part = EmailMessage(policy=SMTP)  # base64 parts are ASCII under either policy
    part.set_content(body, cte="base64")
    if body_html:
        part.add_alternative(body_html, subtype="html", cte="base64")
    return part.as_bytes()


# The parts are two thirds of building a mail (~0.6 ms of ~1 ms) and every recipient of an
# event shares them when its template does not name the person: built once per text. Small
# texts only, so the cache holds at most 32 × 32 K characters (a few MiB).
_cached_mime_body = functools.lru_cache(maxsize=32)(_mime_body)
