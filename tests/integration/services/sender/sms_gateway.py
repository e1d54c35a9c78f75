"""A real HTTP SMS gateway on 127.0.0.1:<port 0> (aiohttp) for the SMS provider's tests and
benchmark: records every request and answers from a script (then 200)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "sms-gateway-token-0123456789"


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SmsGateway:
    script: list[Answer] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)  # bodies answered 2xx
    requests: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # body, auth
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/send"

    async def _send(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.requests.append((body, request.headers.get("Authorization", "")))
        answer = self.script.pop(0) if self.script else Answer(body={"id": f"gw-{body['id']}"})
        if 200 <= answer.status < 300:
            self.received.append(body)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def start(self, port: int = 0) -> SmsGateway:
        app = web.Application()
        app.router.add_post("/v1/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
