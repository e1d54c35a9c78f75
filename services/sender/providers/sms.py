"""SMS through a generic HTTP gateway (DESIGN §6), the first channel plugin.

``POST HERALD_SMS_GATEWAY_URL`` with ``Authorization: Bearer HERALD_SMS_GATEWAY_TOKEN`` and
``{"to": "+7…", "text": "…", "id": "herald-<delivery id>"}``; the id is the same on every
retry, so a gateway can drop a repeat. 2xx: sent; 429 (its ``Retry-After`` honoured, the whole
gateway paused) and 5xx: later; any other 4xx: this message never will. Connection errors,
timeouts and 502/503/504 mean the gateway is down (``ProviderUnavailable``: the breaker's
business, not the delivery's).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderContext,
    ProviderPermanentError,
    ProviderResult,
    ProviderTransientError,
    ProviderUnavailable,
)
from services.sender.providers.rate_limit import SendSchedule, take_slot
from services.sender.providers.sms_settings import SmsSettings
from services.sender.providers.sms_text import fit, sms_text

GATEWAY = "gateway"  # the schedule's one key: the limit is the gateway's, not a person's
DOWN_STATUSES = frozenset({502, 503, 504})  # the gateway, or what fronts it, is not there
ERROR_EXCERPT_CHARS = 200


def delivery_key(delivery_id: int) -> str:
    return f"herald-{delivery_id}"


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class SmsGatewayProvider(Provider):
    channel = "sms"

    def __init__(self, url: str, settings: SmsSettings) -> None:
        self._url, self._s = url, settings
        self._headers = (
            {"Authorization": f"Bearer {settings.sms_gateway_token}"}
            if settings.sms_gateway_token
            else {}
        )
        self._schedule = SendSchedule(chat_interval_s=0.0, per_bot_per_s=settings.sms_rate_per_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._s.sms_timeout_s),
                connector=aiohttp.TCPConnector(limit=self._s.sms_pool_size),
                headers=self._headers,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        phone = to.phone or to.address
        if not phone:
            raise ProviderPermanentError("no phone number in the directory")
        await take_slot(self._schedule, GATEWAY, "SMS gateway")
        text = fit(sms_text(message.subject, message.body), self._s.sms_max_segments)
        body = {"to": phone, "text": text, "id": delivery_key(message.delivery_id)}
        status, retry_after, answer = await self._post(body)
        return self._judge(status, retry_after, answer)

    async def _post(self, body: dict[str, str]) -> tuple[int, str | None, bytes]:
        if self._session is None:
            await self.start()
        assert self._session is not None
        try:
            async with self._session.post(self._url, json=body) as resp:
                return resp.status, resp.headers.get("Retry-After"), await resp.read()
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ProviderUnavailable(f"SMS gateway unreachable: {exc!r}") from exc
        except aiohttp.ClientError as exc:
            raise ProviderTransientError(f"SMS gateway: {exc!r}") from exc

    def _judge(self, status: int, retry_after: str | None, answer: bytes) -> ProviderResult:
        said = answer[:ERROR_EXCERPT_CHARS].decode("utf-8", "replace")
        if 200 <= status < 300:
            return ProviderResult(_gateway_id(answer))
        if status == 429:
            wait = retry_after_s(retry_after)
            if wait:
                self._schedule.pause_chat(GATEWAY, wait)
            raise ProviderTransientError(f"SMS gateway 429: {said}", wait)
        if status in DOWN_STATUSES:
            raise ProviderUnavailable(f"SMS gateway {status}: {said}")
        if status >= 500:
            raise ProviderTransientError(f"SMS gateway {status}: {said}")
        raise ProviderPermanentError(f"SMS gateway {status}: {said}")


def _gateway_id(answer: bytes) -> str | None:
    """The gateway's own message id, when its answer is a JSON object carrying one."""
    try:
        parsed = json.loads(answer) if answer else None
    except ValueError:
        return None
    if isinstance(parsed, dict):
        found = parsed.get("id") or parsed.get("message_id")
        return str(found)[:256] if found is not None else None
    return None


def build(ctx: ProviderContext) -> Provider:
    url = ctx.settings.sms_gateway_url
    if not url:
        raise ValueError("the SMS channel needs HERALD_SMS_GATEWAY_URL")
    own = ctx.settings if isinstance(ctx.settings, SmsSettings) else SmsSettings()
    return SmsGatewayProvider(str(url), own)
