"""The bus: RabbitMQ (aio-pika) in production, in-memory for ``herald dev`` and unit tests."""

from libs.common.bus.base import Bus, Handler, Message, QueueSpec
from libs.common.bus.factory import make_bus

__all__ = ["Bus", "Handler", "Message", "QueueSpec", "make_bus"]
