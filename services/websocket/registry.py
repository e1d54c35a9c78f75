"""Who is connected and who listens to what: the gateway's in-memory indexes.

Per-connection state is one slotted object (≈ 100 bytes) so a process can hold 15,000
connections within the memory budget; subscriptions are grouped by (feed, tenant, params) so
a message is projected and serialized once per group, not once per subscriber.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from websockets.asyncio.server import ServerConnection

from services.websocket import metrics

GroupKey = tuple[str, str, tuple[str, ...]]  # feed, tenant, parameter values
UserKey = tuple[str, str]  # tenant, user id


class TooManySubscriptions(Exception):
    pass


class Client:
    __slots__ = (
        "conn",
        "dropped",
        "exp",
        "held",
        "held_counts",
        "last_seen",
        "protocol",
        "seq",
        "subs",
        "tenant",
        "transport",
        "user_id",
        "welcomed",
    )

    def __init__(self, conn: ServerConnection, tenant: str, user_id: str, exp: float) -> None:
        self.conn = conn
        # what a push touches, one hop away: a fan-out walks 10,000 of these
        self.protocol, self.transport = conn.protocol, conn.transport
        self.tenant = tenant
        self.user_id = user_id
        self.exp = exp  # token expiry (epoch seconds); the connection is closed past it
        self.last_seen = time.monotonic()
        self.subs: set[GroupKey] | None = None  # created on the first subscription
        # the cursor value of the last notification this connection delivered (or of welcome)
        self.seq = 0
        self.welcomed = 0  # the cursor welcome carried (the deprecated last_id resume uses it)
        # while welcome or a replay is under way: (cursor value, frame) pushed live meanwhile;
        # a new connection holds from the start, so nothing slips in before welcome
        self.held: list[tuple[int, bytes]] | None = []
        # …and the latest counters pushed live meanwhile: sent after the replay's own
        self.held_counts: bytes | None = None
        self.dropped = False


class Registry:
    def __init__(self, max_subscriptions: int) -> None:
        self.max_subscriptions = max_subscriptions
        self.users: dict[UserKey, set[Client]] = {}
        self.groups: dict[GroupKey, set[Client]] = {}

    def add(self, client: Client) -> None:
        self.users.setdefault((client.tenant, client.user_id), set()).add(client)
        metrics.CONNECTIONS.inc()

    def remove(self, client: Client) -> None:
        for key in list(client.subs or ()):
            self.unsubscribe(client, key)
        user = (client.tenant, client.user_id)
        peers = self.users.get(user)
        if peers is not None and client in peers:
            peers.discard(client)
            if not peers:
                del self.users[user]
            metrics.CONNECTIONS.dec()

    def subscribe(self, client: Client, key: GroupKey) -> bool:
        """False when already subscribed; TooManySubscriptions past the per-connection cap."""
        if client.subs is None:
            client.subs = set()
        if key in client.subs:
            return False
        if len(client.subs) >= self.max_subscriptions:
            raise TooManySubscriptions(f"at most {self.max_subscriptions} subscriptions")
        client.subs.add(key)
        self.groups.setdefault(key, set()).add(client)
        metrics.SUBSCRIPTIONS.inc()
        return True

    def unsubscribe(self, client: Client, key: GroupKey) -> bool:
        if not client.subs or key not in client.subs:
            return False
        client.subs.discard(key)
        group = self.groups.get(key)
        if group is not None:
            group.discard(client)
            if not group:
                del self.groups[key]
        metrics.SUBSCRIPTIONS.dec()
        return True

    def of_user(self, tenant: str, user_id: str) -> set[Client]:
        return self.users.get((tenant, user_id), set())

    def clients(self) -> Iterator[Client]:
        for peers in list(self.users.values()):
            yield from list(peers)

    def __len__(self) -> int:
        return sum(len(peers) for peers in self.users.values())
