"""Internationalised e-mail addresses (RFC 6530-6532): which ones plain SMTP can carry.

A non-ASCII *domain* (``petr@пример.рф``) has an ASCII spelling, its IDNA form
(``petr@xn--e1afmkfd.xn--p1ai``), that every mail server accepts. A non-ASCII *local part*
(``пётр@пример.рф``) has none: only a server that offers the SMTPUTF8 extension can take it.
The directory refuses such an address unless ``HERALD_SMTP_SMTPUTF8`` says the relay offers it
(``PUT /v1/recipients``); the sender checks the relay's EHLO answer before each such mail.
"""

from __future__ import annotations

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings


class SmtpUtf8Settings(HeraldSettings):
    smtp_smtputf8: bool = Field(
        default=False,
        description="the SMTP relay offers SMTPUTF8: the directory accepts addresses whose "
        "local part is not ASCII (пётр@пример.рф)",
    )


def ascii_form(address: str) -> str | None:
    """The address as plain SMTP carries it (an internationalised domain in IDNA form), or
    None when only SMTPUTF8 can carry it (a non-ASCII local part, or a domain IDNA refuses)."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:  # a label IDNA 2003 cannot spell (too long, a forbidden character)
        return None


def needs_smtputf8(address: str) -> bool:
    return ascii_form(address) is None
