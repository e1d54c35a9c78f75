"""Build a service's ASGI app (or the websocket gateway) from its own settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from libs.common.settings import DEFAULT_PORTS


class Service(StrEnum):
    ingest = "ingest"
    processor = "processor"
    sender = "sender"
    websocket = "websocket"
    acl_mediator = "acl_mediator"

    @property
    def default_port(self) -> int:
        return DEFAULT_PORTS[self.value]


def load_settings(service: Service) -> Any:
    """Raises pydantic.ValidationError naming what is missing for *this* service."""
    if service is Service.ingest:
        from services.ingest.settings import IngestSettings

        return IngestSettings()
    if service is Service.processor:
        from services.processor.settings import ProcessorSettings

        return ProcessorSettings()
    if service is Service.sender:
        from services.sender.settings import SenderSettings

        return SenderSettings()
    if service is Service.websocket:
        from services.websocket.settings import WebsocketSettings

        return WebsocketSettings()
    from services.acl_mediator.settings import MediatorSettings

    return MediatorSettings()


def build_asgi(service: Service, settings: Any) -> Any:
    if service is Service.ingest:
        from services.ingest.app import create_app as ingest

        return ingest(settings)
    if service is Service.processor:
        from services.processor.app import create_app as processor

        return processor(settings)
    if service is Service.sender:
        from services.sender.app import create_app as sender

        return sender(settings)
    if service is Service.acl_mediator:
        from services.acl_mediator.app import create_app as mediator

        return mediator(settings)
    raise ValueError("the websocket gateway is not an ASGI app")
