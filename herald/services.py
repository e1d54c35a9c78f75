"""Build a service's ASGI app (or the websocket gateway) from its own settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from libs.common.runtime.settings import DEFAULT_PORTS


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


def prepare(service: Service, log_level: str) -> Any:
    """What ``herald run`` does before serving: refuse the extras no service uses (they would
    be imported from here on) and, with HMAC user tokens, ``cryptography``; log as JSON, load
    the settings (raises ValidationError)."""
    from libs.common.runtime.lean_imports import refuse_unused_crypto, refuse_unused_extras

    refuse_unused_extras()  # before the logging import below: structlog would load rich
    if service in (Service.ingest, Service.websocket):  # the two that verify user tokens
        refuse_unused_crypto()  # before their settings import PyJWT
    from libs.common.runtime.logging import configure_logging

    configure_logging(log_level)
    return load_settings(service)


def uvicorn_settings(host: str, port: int) -> dict[str, Any]:
    """How ``herald run`` serves an ASGI service with uvicorn."""
    from libs.common.web.header_limit import uvicorn_options

    return {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "ws": "none",  # no ASGI service speaks websocket (the gateway is its own server)
        **uvicorn_options(),  # request heads capped before any auth (DESIGN §13)
    }


def build(service: Service, settings: Any) -> Any:
    """The service's ASGI app, or for the websocket gateway its ``Gateway`` (not started)."""
    if service is Service.websocket:
        from services.websocket.app import Gateway

        return Gateway(settings)
    return build_asgi(service, settings)


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
