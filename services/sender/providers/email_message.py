"""Building the MIME message: text + HTML, Message-ID stable across retries.

Assembled directly as bytes (headers, base64 UTF-8 parts, a fixed boundary). The standard
``email`` package re-parses and folds every header and compiles a regex per multipart
message: ~10 ms a mail with ``EmailMessage`` here, ~1.5 ms with compat32 — against ~0.1 ms for
these few lines, which is what lets one sender reach 500 mails/s on two shared cores.
Non-ASCII subjects and display names are RFC 2047 encoded by ``email.header``.
"""

from __future__ import annotations

import base64
import functools
import secrets
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from services.sender.providers.base import OutgoingMessage

CRLF = b"\r\n"


def message_id(delivery_id: int, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">") or "herald.local"
    return f"<delivery-{delivery_id}@{domain}>"


@functools.lru_cache(maxsize=4096)  # parseaddr is slow; the same addresses come back
def envelope_address(header_value: str) -> str:
    """``Herald <n@x.org>`` → ``n@x.org`` (the SMTP envelope wants the bare address)."""
    address = parseaddr(header_value)[1]
    if not address or "@" not in address or any(c in address for c in "\r\n <>"):
        raise ValueError(f"not an e-mail address: {header_value!r}")
    return address


def _text(value: str) -> str:
    one_line = " ".join(value.splitlines())  # a template may leave a newline: never inject
    return one_line if one_line.isascii() else Header(one_line, "utf-8").encode()


@functools.lru_cache(maxsize=4096)
def _address(value: str) -> str:
    if any(c in value for c in "\r\n"):
        raise ValueError("CR or LF in an address")
    name, address = parseaddr(value)
    envelope_address(value)
    return value if value.isascii() else formataddr((name, address), "utf-8")


def _part(content_type: str, body: str) -> bytes:
    encoded = base64.encodebytes(body.encode("utf-8")).replace(b"\n", CRLF)
    head = f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: base64'
    return head.encode() + CRLF + CRLF + encoded


def build_email(msg: OutgoingMessage, sender: str, to: str) -> bytes:
    """The whole message, CRLF line endings, ready for DATA."""
    headers = [
        f"From: {_address(sender)}",
        f"To: {_address(to)}",
        f"Subject: {_text(msg.subject)}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {message_id(msg.delivery_id, sender)}",
        "MIME-Version: 1.0",
    ]
    if not msg.body_html:
        return "\r\n".join(headers).encode() + CRLF + _part("text/plain", msg.body)
    # base64 lines never start with "--": no body can contain the boundary
    boundary = f"=_herald_{msg.delivery_id}_{secrets.token_hex(8)}"
    headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    dash = f"--{boundary}".encode()
    return b"".join(
        [
            "\r\n".join(headers).encode(),
            CRLF + CRLF + dash + CRLF,
            _part("text/plain", msg.body),
            dash + CRLF,
            _part("text/html", msg.body_html),
            dash + b"--" + CRLF,
        ]
    )
