"""Settings shared by every service (DESIGN §14: the operator's contract).

Every setting is an environment variable with the ``HERALD_`` prefix; a ``.env`` file works too.
Each service composes only the pieces it needs, so a service refuses to start when *its*
required settings are missing, and never because of another service's.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.security.principals import (
    PrincipalSetting,
    ServicePrincipal,
    named_keys,
    named_users,
)

DEFAULT_PORTS: dict[str, int] = {
    "ingest": 8000,
    "websocket": 8001,
    "acl_mediator": 8002,
    "processor": 8003,
    "sender": 8004,
}


class HeraldSettings(BaseSettings):
    """Base: the prefix, the .env file, and nothing else."""

    # an empty variable is an unset one: compose passes `${VAR:-}` for "not configured"
    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )


class DatabaseSettings(HeraldSettings):
    database_url: str = Field(
        description="postgresql+asyncpg://… in production, sqlite+aiosqlite:///… embedded",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError(
                "must start with postgresql+asyncpg:// or sqlite+aiosqlite:// "
                f"(got {value.split(':', 1)[0]}://…)"
            )
        return value


class BusSettings(HeraldSettings):
    amqp_url: str = Field(description="amqp://… ; memory:// selects the in-process bus")
    amqp_prefetch: int = Field(default=200, ge=1, le=10_000)
    # Longer than any hold that is work (ingest stores a batch within 30 s, a processor nudge
    # waits for its events' batch); short enough that a stalled intake is seen in minutes.
    bus_unacked_limit_s: float = Field(
        default=300.0,
        gt=0,
        description="a consumer holding a message unacked longer than this is stuck: "
        "/readyz answers 503 naming its queue",
    )

    @field_validator("amqp_url")
    @classmethod
    def _supported_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://", "memory://")):
            raise ValueError("must start with amqp://, amqps:// or memory://")
        return value


class ServiceKeySettings(HeraldSettings):
    api_keys: dict[str, PrincipalSetting] = Field(
        description='JSON {"<key>": {"scopes": [...], "sources": [...], "tenants": [...]}} or '
        '{"<key>": "<source>"} (events of that source in tenant default; "*" = everything); '
        "sent as the X-API-Key header (DESIGN §3.1)",
    )

    @field_validator("api_keys")
    @classmethod
    def _non_empty(cls, value: dict[str, ServicePrincipal]) -> dict[str, ServicePrincipal]:
        if not value:
            raise ValueError("at least one API key is required")
        named = named_keys(value)
        short = [named[key].name for key in value if len(key) < 16]
        if short:
            raise ValueError(f"API keys must be at least 16 characters (short: {short})")
        return named


class AmqpProducerSettings(BusSettings):
    amqp_producers: dict[str, PrincipalSetting] | None = Field(
        default=None,
        description='JSON {"<rabbitmq user>": {"scopes": [...], "sources": [...], '
        '"tenants": [...]}} (or a string shorthand); unset = every broker user is trusted',
    )

    @field_validator("amqp_producers", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # compose passes `${HERALD_AMQP_PRODUCERS:-}`

    @field_validator("amqp_producers")
    @classmethod
    def _named(
        cls, value: dict[str, ServicePrincipal] | None, info: ValidationInfo
    ) -> dict[str, ServicePrincipal] | None:
        if value is None:
            return None
        if str(info.data.get("amqp_url", "")).startswith("memory://"):
            # the in-process bus has no users: every message would be rejected
            raise ValueError("needs RabbitMQ: the in-memory bus (memory://) has no users")
        return named_users(value)


class MediatorClientSettings(HeraldSettings):
    mediator_url: str = Field(description="base URL of the permissions mediator")
    mediator_api_key: str = Field(min_length=16)
    mediator_timeout_s: float = Field(default=2.0, gt=0)
