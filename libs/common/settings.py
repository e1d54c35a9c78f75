"""Settings shared by every service (DESIGN §14: the operator's contract).

Every setting is an environment variable with the ``HERALD_`` prefix; a ``.env`` file works too.
Each service composes only the pieces it needs, so a service refuses to start when *its*
required settings are missing, and never because of another service's.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS: dict[str, int] = {
    "ingest": 8000,
    "websocket": 8001,
    "acl_mediator": 8002,
    "processor": 8003,
    "sender": 8004,
}


class HeraldSettings(BaseSettings):
    """Base: the prefix, the .env file, and nothing else."""

    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_file=".env", extra="ignore", frozen=True
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

    @field_validator("amqp_url")
    @classmethod
    def _supported_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://", "memory://")):
            raise ValueError("must start with amqp://, amqps:// or memory://")
        return value


class ServiceKeySettings(HeraldSettings):
    api_keys: dict[str, str] = Field(
        description='JSON {"<key>": "<source or service>"}; sent as the X-API-Key header',
    )

    @field_validator("api_keys")
    @classmethod
    def _non_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one API key is required")
        short = [name for key, name in value.items() if len(key) < 16]
        if short:
            raise ValueError(f"API keys must be at least 16 characters (short: {short})")
        return value


class MediatorClientSettings(HeraldSettings):
    mediator_url: str = Field(description="base URL of the permissions mediator")
    mediator_api_key: str = Field(min_length=16)
    mediator_timeout_s: float = Field(default=2.0, gt=0)
