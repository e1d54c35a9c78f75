"""Building the MIME message: text + HTML, Message-ID stable across retries."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from services.sender.providers.base import OutgoingMessage


def message_id(delivery_id: int, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">") or "herald.local"
    return f"<delivery-{delivery_id}@{domain}>"


def build_email(msg: OutgoingMessage, sender: str, to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = msg.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(msg.delivery_id, sender)
    mail.set_content(msg.body)
    if msg.body_html:
        mail.add_alternative(msg.body_html, subtype="html")
    return mail
