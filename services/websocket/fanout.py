"""From the gateway's one queue to the browsers: personal pushes and entity feed events.

Each entity event is projected and serialized once per subscriber group; every subscriber
that needs a permission check is checked in one mediator call at send time; frames go out
without awaiting any client (a client whose unsent backlog passes the limit is dropped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from libs.common.bus import Message
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.clients.mediator_client import MediatorClient, MediatorUnavailable
from libs.common.schemas.accepted import AcceptedEvent, AcceptedEvents
from libs.common.schemas.inbox import BrowserPush
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.websocket import metrics, protocol
from services.websocket.feeds import AuthorizeObject, Feed, FeedSet, project
from services.websocket.push import Pusher
from services.websocket.registry import Client, GroupKey, Registry
from services.websocket.replay import Replayer

log = logging.getLogger("herald.websocket.fanout")

Batch = tuple[Feed, GroupKey, set[Client], bytes]
Send = tuple[GroupKey, Iterable[Client], bytes]


class Fanout:
    def __init__(
        self,
        registry: Registry,
        feeds: FeedSet,
        pusher: Pusher,
        mediator: MediatorClient | None,
        replayer: Replayer,
    ) -> None:
        self.registry, self.feeds, self.pusher, self.mediator = registry, feeds, pusher, mediator
        self.replayer = replayer
        # live events held for clients whose subscription is recovering (feed_recovery.py)
        self.recovering: dict[tuple[Client, GroupKey], list[tuple[str, bytes]]] = {}
        self._tail: asyncio.Future[None] | None = None  # the previous event's send

    async def on_message(self, message: Message) -> None:
        """The bus handler: a live feed is never redelivered, so every message is acked."""
        try:
            if message.exchange == BROWSER_EXCHANGE:
                self.on_personal(message.body)
            else:
                for event in _accepted(message.body):
                    await self.on_event(message.routing_key, event)
        except Exception:
            log.exception("dropping a message the gateway could not handle: %r", message.body[:512])
        finally:
            await message.ack()

    def on_personal(self, body: bytes) -> None:
        try:
            push = BrowserPush.model_validate_json(body)
        except ValueError as exc:
            metrics.BUS_MESSAGES.labels("invalid").inc()
            log.warning("invalid browser push: %s", exc)
            return
        metrics.BUS_MESSAGES.labels("personal").inc()
        clients = self.registry.of_user(push.tenant, push.user_id)
        if not clients:
            return
        if push.kind == "notification" and push.notification is not None:
            data = protocol.notification(push.notification, push.seq)
            if push.seq is None:  # from a sender that predates cursors: as it comes
                self.pusher.push(clients, data, "notification")
            else:
                self.pusher.push(
                    self.replayer.on_live(clients, push.seq, data), data, "notification"
                )
        if push.counts is None:
            return
        if push.kind == "counts":  # maybe an item revealed without a push: read up to now
            self.replayer.catch_up_then(clients, protocol.counts(push.counts))
        else:  # the sender sends the new counters with a notification
            self._push_counts(clients, protocol.counts(push.counts))

    def _push_counts(self, clients: set[Client], data: bytes) -> None:
        live = []
        for client in clients:
            if client.held is not None:  # else the replay's older counters would follow it
                client.held_counts = data
            else:
                live.append(client)
        self.pusher.push(live, data, "counts")

    async def on_event(self, routing_key: str, event: AcceptedEvent) -> None:
        """Events are checked concurrently but sent in arrival order: a feed never shows
        "closed" before "open" because one permission call took longer."""
        previous, done = self._tail, asyncio.get_running_loop().create_future()
        self._tail = done
        started = time.perf_counter()
        try:
            sends = await self.prepare(routing_key, event)
            if previous is not None:
                await previous
            for key, targets, data in sends:
                if self.recovering:
                    targets = self._hold(key, targets, event.event_id, data)
                self.pusher.push(targets, data, "event")
            if sends:
                metrics.PUSH_SECONDS.observe(time.perf_counter() - started)
        finally:
            done.set_result(None)
            if self._tail is done:
                self._tail = None

    def _hold(
        self, key: GroupKey, targets: Iterable[Client], event_id: str, data: bytes
    ) -> list[Client]:
        now = []
        for client in targets:
            held = self.recovering.get((client, key))
            if held is None:
                now.append(client)
            else:
                held.append((event_id, data))
        return now

    async def prepare(
        self, routing_key: str, event: AcceptedEvent, only: Client | None = None
    ) -> list[Send]:
        """The frames of one event and who may get them (``only``: for one client's
        recovery, whether or not it is subscribed yet)."""
        feeds = self.feeds.matching(routing_key)
        if not feeds:
            return []
        metrics.BUS_MESSAGES.labels("event").inc()
        batches = self._batches(feeds, event, only)
        if not batches:
            return []
        allowed = await self._authorize(batches, event.tenant, event.body)
        sends: list[Send] = []
        for feed, key, group, data in batches:
            if feed.config.authorize == "none":
                sends.append((key, group, data))
            else:
                targets = [c for c in group if (feed.name, c.user_id) in allowed]
                metrics.DENIED.inc(len(group) - len(targets))
                sends.append((key, targets, data))
        return sends

    def _batches(self, feeds: list[Feed], event: AcceptedEvent, only: Client | None) -> list[Batch]:
        batches = []
        for feed in feeds:
            params = feed.params_of(event.body)
            if params is None:
                continue
            key = (feed.name, event.tenant, params)  # the tenant ingest stored it under
            group = {only} if only is not None else self.registry.groups.get(key)
            if not group:
                continue
            named = dict(zip(feed.config.params, params, strict=True))
            data = protocol.entity_event(
                feed.name, named, project(event.body, feed.config.fields), event
            )
            batches.append((feed, key, group, data))
        return batches

    async def _authorize(
        self, batches: list[Batch], tenant: str, event: Mapping[str, Any]
    ) -> set[tuple[str, str]]:
        """(feed, user) pairs allowed; one mediator call for every subscriber of the event."""
        wanted: dict[tuple[PermissionItem, str], list[tuple[str, str]]] = {}
        for feed, _, group, _ in batches:
            rule = feed.config.authorize
            if not isinstance(rule, AuthorizeObject):
                continue
            for user in {c.user_id for c in group}:
                item = feed.permission_item(event, user)
                if item is not None:  # an event without the object is denied
                    wanted.setdefault((item, rule.access), []).append((feed.name, user))
        if not wanted:
            return set()
        answers = await self._check(list(dict.fromkeys(item for item, _ in wanted)), tenant)
        allowed: set[tuple[str, str]] = set()
        for (item, access), pairs in wanted.items():
            answer = answers.get(item)
            if answer is None or answer.error is not None:
                continue
            if answer.write if access == "write" else answer.read:
                allowed.update(pairs)
        return allowed

    async def _check(
        self, items: list[PermissionItem], tenant: str
    ) -> dict[PermissionItem, PermissionAnswer]:
        """Any mediator failure denies everyone (never an allow)."""
        if self.mediator is None:
            metrics.MEDIATOR_CALLS.labels("unconfigured").inc()
            return {}
        try:
            answers = await self.mediator.check(items, tenant)
        except MediatorUnavailable as exc:
            metrics.MEDIATOR_CALLS.labels("error").inc()
            log.warning("mediator unavailable; withholding the event from %d: %s", len(items), exc)
            return {}
        metrics.MEDIATOR_CALLS.labels("ok").inc()
        return dict(zip(items, answers, strict=True))


def _accepted(body: bytes) -> list[AcceptedEvent]:
    try:
        return AcceptedEvents.model_validate_json(body).events
    except ValueError as exc:
        metrics.BUS_MESSAGES.labels("invalid").inc()
        log.warning("invalid herald.accepted message: %s", str(exc)[:300])
        return []
