"""One browser connection: authenticate, then answer commands until it closes."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from libs.common.inbox.inbox_cursor import BadCursor, decode, encode
from libs.common.security.auth import AuthError, KeysUnavailable, Principal, TokenVerifier
from services.websocket import inbox, metrics, protocol
from services.websocket.feed_recovery import FeedRecovery
from services.websocket.feeds import FeedSet
from services.websocket.protocol import Auth, BadCommand, Ping, Resume, Subscribe
from services.websocket.push import Pusher
from services.websocket.registry import Client, Registry, TooManySubscriptions
from services.websocket.replay import Replayer
from services.websocket.settings import WebsocketSettings
from services.websocket.tenant_watch import TenantWatch

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
        replayer: Replayer,
        recovery: FeedRecovery,
        tenant_watch: TenantWatch | None = None,
    ) -> None:
        self.s, self.verifier, self.registry = settings, verifier, registry
        self.feeds, self.pusher, self.db, self.replayer = feeds, pusher, db, replayer
        self.recovery, self.tenant_watch = recovery, tenant_watch

    async def handle(self, conn: ServerConnection) -> None:
        authenticated = await self._authenticate(conn)
        if authenticated is None:
            return
        principal, resume = authenticated
        exp = float(principal.claims.get("exp", 0))
        client = Client(conn, principal.tenant, principal.user_id, exp)  # holds live pushes
        self.registry.add(client)  # before reading the cursor: no push can fall in between
        try:
            if not await self._welcome(client, principal, resume):
                return
            async for data in conn:
                client.last_seen = time.monotonic()
                await self._dispatch(client, data)
        except ConnectionClosed:
            pass
        finally:
            self.registry.remove(client)

    async def _authenticate(self, conn: ServerConnection) -> tuple[Principal, str | None] | None:
        token, resume = _query_token(conn), None
        try:
            if token is None:
                async with asyncio.timeout(self.s.ws_auth_timeout_s):
                    first = protocol.parse_command(await conn.recv())
                if not isinstance(first, Auth):
                    raise AuthError("the first message must be auth")
                token, resume = first.token, first.resume
            return await self.verifier.averify(token), resume
        except TimeoutError:
            await self._refuse(conn, protocol.CLOSE_AUTH_TIMEOUT, "auth timeout", "no auth message")
        except KeysUnavailable as exc:  # our outage, not a bad token: 4401 would log them out
            log.warning("signing keys unavailable: %s", exc.reason)
            reason = "signing keys unavailable; try again later"
            await self._refuse(conn, protocol.CLOSE_TRY_LATER, "keys_unavailable", reason)
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

    async def _welcome(self, client: Client, principal: Principal, resume: str | None) -> bool:
        """welcome with the user's cursor, then the replay asked for in ``auth`` or live."""
        try:
            async with asyncio.timeout(RESUME_TIMEOUT_S):
                current = await inbox.position(self.db, client.tenant, client.user_id)
        except Exception as exc:
            log.warning("cursor unreadable for %s: %r", client.user_id, exc)
            await client.conn.close(protocol.CLOSE_TRY_LATER, "inbox unavailable; retry")
            return False
        client.welcomed = current
        await _reply(client.conn, self._welcome_frame(principal, current))
        if resume is None:
            await self.replayer.welcome(client, current)
        else:
            await self.replayer.resume(client, _position(resume), None)
        return True

    def _welcome_frame(self, principal: Principal, current: int) -> bytes:
        return protocol.frame(
            {
                "type": "welcome",
                "tenant": principal.tenant,
                "user_id": principal.user_id,
                "cursor": encode(current),
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
            reply = await self._subscribe_recovering(client, cmd)
        elif isinstance(cmd, Resume):
            await self._resume(client, cmd)
            return
        elif isinstance(cmd, Ping):
            reply = protocol.frame({"type": "pong", "id": cmd.id})
        else:
            reply = await self._reauth(client, cmd)
        await _reply(client.conn, reply)

    async def _subscribe_recovering(self, client: Client, cmd: Subscribe) -> bytes:
        """With a feed cursor: the missed events first, then ``subscribed`` saying whether
        they could all be recovered, then live."""
        reply = self._subscribe(client, cmd)
        feed = self.feeds.feeds.get(cmd.feed)
        if cmd.cursor is None or cmd.type != "subscribe" or feed is None:
            return reply
        if b'"type":"subscribed"' not in reply:
            return reply  # refused: nothing to recover
        key = (feed.name, client.tenant, feed.check_params(cmd.params))
        recovered = await self.recovery.recover(client, feed, key, cmd.cursor)
        body = {"type": "subscribed", "id": cmd.id, "feed": feed.name, "params": cmd.params}
        return protocol.frame({**body, "recovered": recovered})

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
        except KeysUnavailable as exc:  # keep the connection; the old token still holds
            return protocol.error("unavailable", exc.reason, cmd.id)
        except AuthError as exc:
            return protocol.error("unauthorized", exc.reason, cmd.id)
        if (principal.tenant, principal.user_id) != (client.tenant, client.user_id):
            return protocol.error("unauthorized", "token is for another user", cmd.id)
        client.exp = float(principal.claims.get("exp", 0))
        return protocol.frame({"type": "authenticated", "id": cmd.id, "exp": client.exp})

    async def _resume(self, client: Client, cmd: Resume) -> None:
        if self.tenant_watch is not None and await self.tenant_watch.refuse(client):
            return  # its tenant was disabled: closed with 4403, nothing replayed
        await self.replayer.idle(client)  # one replay at a time per connection
        if cmd.cursor is not None:
            await self.replayer.resume(client, _position(cmd.cursor), cmd.id)
        elif cmd.last_id is not None:
            await self.replayer.resume_by_id(client, cmd.last_id, cmd.id)


def _position(cursor: str) -> int | None:
    """The cursor's value; None for one we did not issue (answered ``recovered: false``)."""
    try:
        return decode(cursor)
    except BadCursor:
        return None


async def _reply(conn: ServerConnection, data: bytes) -> None:
    """Frames are UTF-8 JSON bytes: send them as text frames (browsers get strings)."""
    await conn.send(data, text=True)


def _query_token(conn: ServerConnection) -> str | None:
    if conn.request is None:
        return None
    values = parse_qs(urlsplit(conn.request.path).query).get("token")
    return values[0] if values else None
