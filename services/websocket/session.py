"""One browser connection: authenticate, then answer commands until it closes."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from libs.common.auth import AuthError, Principal, TokenVerifier
from services.websocket import inbox, metrics, protocol
from services.websocket.feeds import FeedSet
from services.websocket.protocol import Auth, BadCommand, Ping, Resume, Subscribe
from services.websocket.push import Pusher
from services.websocket.registry import Client, Registry, TooManySubscriptions
from services.websocket.settings import WebsocketSettings

log = logging.getLogger("herald.websocket.session")

# A hung database must not hold this connection's live notifications back for long.
RESUME_TIMEOUT_S = 10.0


class Sessions:
    """Shared by every connection of a gateway process; holds no per-connection state."""

    def __init__(
        self,
        settings: WebsocketSettings,
        verifier: TokenVerifier,
        registry: Registry,
        feeds: FeedSet,
        pusher: Pusher,
        db: async_sessionmaker[AsyncSession],
    ) -> None:
        self.s, self.verifier, self.registry = settings, verifier, registry
        self.feeds, self.pusher, self.db = feeds, pusher, db

    async def handle(self, conn: ServerConnection) -> None:
        principal = await self._authenticate(conn)
        if principal is None:
            return
        exp = float(principal.claims.get("exp", 0))
        client = Client(conn, principal.tenant, principal.user_id, exp)
        self.registry.add(client)
        try:
            await _reply(conn, self._welcome(principal))
            async for data in conn:
                client.last_seen = time.monotonic()
                await self._dispatch(client, data)
        except ConnectionClosed:
            pass
        finally:
            self.registry.remove(client)

    async def _authenticate(self, conn: ServerConnection) -> Principal | None:
        token = _query_token(conn)
        try:
            if token is None:
                async with asyncio.timeout(self.s.ws_auth_timeout_s):
                    first = protocol.parse_command(await conn.recv())
                if not isinstance(first, Auth):
                    raise AuthError("the first message must be auth")
                token = first.token
            return await self.verifier.averify(token)
        except TimeoutError:
            await self._refuse(conn, protocol.CLOSE_AUTH_TIMEOUT, "auth timeout", "no auth message")
        except (AuthError, BadCommand) as exc:
            reason = exc.reason if isinstance(exc, AuthError) else f"bad auth: {exc.reason}"
            await self._refuse(conn, protocol.CLOSE_UNAUTHORIZED, "unauthorized", reason)
        except ConnectionClosed:
            pass
        return None

    @staticmethod
    async def _refuse(conn: ServerConnection, code: int, metric: str, reason: str) -> None:
        metrics.REFUSED.labels(metric).inc()
        await conn.close(code, protocol.close_reason(reason))

    def _welcome(self, principal: Principal) -> bytes:
        return protocol.frame(
            {
                "type": "welcome",
                "tenant": principal.tenant,
                "user_id": principal.user_id,
                "feeds": sorted(self.feeds.feeds),
                "idle_timeout_s": self.s.ws_idle_timeout_s,
                "max_subscriptions": self.s.ws_max_subscriptions,
                "max_message_bytes": self.s.ws_max_message_bytes,
            }
        )

    async def _dispatch(self, client: Client, data: str | bytes) -> None:
        try:
            cmd = protocol.parse_command(data)
        except BadCommand as exc:
            await _reply(client.conn, protocol.error("bad_request", exc.reason, exc.cmd_id))
            return
        if isinstance(cmd, Subscribe):
            reply = self._subscribe(client, cmd)
        elif isinstance(cmd, Resume):
            await self._resume(client, cmd)
            return
        elif isinstance(cmd, Ping):
            reply = protocol.frame({"type": "pong", "id": cmd.id})
        else:
            reply = await self._reauth(client, cmd)
        await _reply(client.conn, reply)

    def _subscribe(self, client: Client, cmd: Subscribe) -> bytes:
        feed = self.feeds.feeds.get(cmd.feed)
        if feed is None:
            return protocol.error("unknown_feed", f"no feed {cmd.feed!r}", cmd.id)
        try:
            key = (feed.name, client.tenant, feed.check_params(cmd.params))
        except ValueError as exc:
            return protocol.error("bad_params", str(exc), cmd.id)
        if cmd.type == "unsubscribe":
            if not self.registry.unsubscribe(client, key):
                return protocol.error("not_subscribed", "no such subscription", cmd.id)
        else:
            try:
                self.registry.subscribe(client, key)
            except TooManySubscriptions as exc:
                return protocol.error("too_many_subscriptions", str(exc), cmd.id)
        body = {"type": f"{cmd.type}d", "id": cmd.id, "feed": feed.name, "params": cmd.params}
        return protocol.frame(body)

    async def _reauth(self, client: Client, cmd: Auth) -> bytes:
        """A fresh token for the same user extends the connection past the old expiry."""
        try:
            principal = await self.verifier.averify(cmd.token)
        except AuthError as exc:
            return protocol.error("unauthorized", exc.reason, cmd.id)
        if (principal.tenant, principal.user_id) != (client.tenant, client.user_id):
            return protocol.error("unauthorized", "token is for another user", cmd.id)
        client.exp = float(principal.claims.get("exp", 0))
        return protocol.frame({"type": "authenticated", "id": cmd.id, "exp": client.exp})

    async def _resume(self, client: Client, cmd: Resume) -> None:
        """Replay from the inbox; live pushes that arrive meanwhile are held and sent after,
        skipping any the replay already carried, so each missed notification arrives once."""
        client.replay = []
        try:
            async with asyncio.timeout(RESUME_TIMEOUT_S):
                items = await inbox.missed(
                    self.db, client.tenant, client.user_id, cmd.last_id, self.s.ws_resume_limit
                )
                counts = await inbox.unread_counts(self.db, client.tenant, client.user_id)
        except Exception as exc:
            log.warning("resume failed for %s: %r", client.user_id, exc)
            error = protocol.error("unavailable", "inbox unavailable; retry", cmd.id)
            self._flush_held(client, cmd.last_id, [error])
            return
        last = max([cmd.last_id, *(item.id for item in items)])
        body = {"type": "resumed", "id": cmd.id, "count": len(items), "last_id": last}
        body["more"] = len(items) >= self.s.ws_resume_limit
        # no await from here on: a live push cannot slip in between (the order is the protocol)
        self.pusher.push_each(client, [protocol.notification(i) for i in items], "notification")
        self._flush_held(client, last, [protocol.frame(body), protocol.counts(counts)])

    def _flush_held(self, client: Client, after_id: int, answer: list[bytes]) -> None:
        """The live notifications held during the replay (those it did not carry), the
        resume's answer, then the counters pushed live meanwhile: they are at least as new."""
        held, client.replay = client.replay or [], None
        counts, client.held_counts = client.held_counts, None
        self.pusher.push_each(client, [data for i, data in held if i > after_id], "notification")
        self.pusher.push_each(client, answer, "resume")
        if counts is not None:
            self.pusher.push_each(client, [counts], "counts")


async def _reply(conn: ServerConnection, data: bytes) -> None:
    """Frames are UTF-8 JSON bytes: send them as text frames (browsers get strings)."""
    await conn.send(data, text=True)


def _query_token(conn: ServerConnection) -> str | None:
    if conn.request is None:
        return None
    values = parse_qs(urlsplit(conn.request.path).query).get("token")
    return values[0] if values else None
