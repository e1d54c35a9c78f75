"""Browser: publish to herald.browser; every websocket gateway instance gets a copy."""

from __future__ import annotations

import json

from libs.common.bus import Bus
from libs.common.bus.topology import BROWSER_EXCHANGE
from services.sender.providers.base import Address, OutgoingMessage, Provider, ProviderResult


class BrowserProvider(Provider):
    channel = "browser"

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        body = {
            "kind": "notification",
            "tenant": to.tenant,
            "user_id": to.user_id,
            "delivery_id": message.delivery_id,
            "title": message.subject,
            "body": message.body,
        }
        await self._bus.publish(BROWSER_EXCHANGE, "", json.dumps(body).encode())
        return ProviderResult(f"browser-{message.delivery_id}")
