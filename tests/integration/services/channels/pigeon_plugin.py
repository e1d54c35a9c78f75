"""A channel plugin as an operator would write one (docs/sender.md): a spec naming its
provider factory and the person's attribute it delivers to. Messages land in ``LOFT``."""

from __future__ import annotations

from libs.common.delivery.channels import ChannelSpec
from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderContext,
    ProviderPermanentError,
    ProviderResult,
)

LOFT: list[tuple[str, str]] = []  # (address, body) of every message sent

CHANNEL = ChannelSpec(
    "pigeon",
    "tests.integration.services.channels.pigeon_plugin:build",
    address="attributes.loft",
    missing="no loft in the directory",
    enabled_by=("pigeon_loft",),  # HERALD_PIGEON_LOFT
)


class PigeonProvider(Provider):
    channel = "pigeon"

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        if not to.address:
            raise ProviderPermanentError("no loft")
        LOFT.append((to.address, message.body))
        return ProviderResult(f"pigeon-{message.delivery_id}")


def build(_ctx: ProviderContext) -> Provider:
    return PigeonProvider()
