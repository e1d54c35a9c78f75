"""A small local Bot API over HTTP (aiohttp on port 0) for aiogram to talk to: records every
sendMessage with its arrival time, answers scripted errors, serves queued updates."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-for-herald-tests"
BOT_USERNAME = "herald_test_bot"
RETRY_AFTER_1S: dict[str, Any] = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 1",
    "parameters": {"retry_after": 1},
}
BLOCKED: dict[str, Any] = {
    "ok": False,
    "error_code": 403,
    "description": "Forbidden: bot was blocked by the user",
}
CHAT_NOT_FOUND: dict[str, Any] = {
    "ok": False,
    "error_code": 400,
    "description": "Bad Request: chat not found",
}


@dataclass
class Sent:
    at: float  # time.monotonic() on arrival
    chat_id: str
    text: str
    answered: int  # HTTP status given


@dataclass
class FakeBotApi:
    errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per chat, in order
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _next_id: int = 1

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        params = dict(await request.post())
        method = request.match_info["method"]
        if method == "sendMessage":
            return self._send(params)
        if method == "getUpdates":
            offset = int(str(params.get("offset") or 0))
            fresh = [u for u in self.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": fresh})
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _send(self, params: dict[str, Any]) -> web.Response:
        chat, text = str(params["chat_id"]), str(params["text"])
        scripted = self.errors.get(chat)
        if scripted:
            error = scripted.pop(0)
            self.sent.append(Sent(time.monotonic(), chat, text, error["error_code"]))
            return web.json_response(error, status=error["error_code"])
        self.sent.append(Sent(time.monotonic(), chat, text, 200))
        self._next_id += 1
        message = {
            "message_id": self._next_id,
            "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"},
            "text": text,
        }
        return web.json_response({"ok": True, "result": message})

    def queue_text(self, chat: int, text: str) -> None:
        """A private message to the bot, as getUpdates delivers it."""
        update_id = len(self.updates) + 100
        self.updates.append(
            {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private", "first_name": "Ann"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Ann"},
                    "text": text,
                },
            }
        )

    def delivered(self, chat: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.answered == 200 and (chat is None or s.chat_id == chat)]

    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
