"""Development e-mail: each message is an .eml file in HERALD_OUTBOX_DIR."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderResult,
)
from services.sender.providers.email_message import build_email, message_id


class OutboxProvider(Provider):
    channel = "email"

    def __init__(self, directory: Path, sender: str) -> None:
        self._dir, self._from = directory, sender

    async def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        if not to.email:
            raise ProviderPermanentError("no e-mail address")
        try:
            mail = build_email(message, self._from, to.email)
        except ValueError as exc:
            raise ProviderPermanentError(f"bad address: {exc}") from exc
        path = self._dir / f"delivery-{message.delivery_id}.eml"
        tmp = path.with_suffix(".tmp")
        await asyncio.to_thread(tmp.write_bytes, mail)
        await asyncio.to_thread(tmp.replace, path)  # atomic: a reader never sees half a file
        return ProviderResult(message_id(message.delivery_id, self._from))
