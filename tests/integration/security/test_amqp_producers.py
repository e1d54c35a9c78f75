"""AMQP producers are authenticated by the broker (DESIGN §3.1, §13): real RabbitMQ users with
least-privilege permissions, the broker's own ``user_id`` validation, and
``HERALD_AMQP_PRODUCERS`` mapping users to what they may emit. Whatever a producer may not
emit is stored ``rejected`` with the reason (and acked); a directory update from a module
that is not the directory never reaches anyone's address."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.dead_letters import replay
from libs.common.bus.origin import USER_HEADER
from libs.common.bus.topology import INGEST_QUEUE
from libs.common.clients.producer import EventProducer
from libs.common.db.models import Event, EventStatus, Recipient
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.integration.security.broker_users import (
    BrokerUser,
    broker_users,
    grant_producers,
    publish_as,
)
from tests.integration.services.processor.support import add, person, processor
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    queue_depth,
)

ACME_TENDERS = {"scopes": ["events"], "sources": ["tenders"], "tenants": ["acme"]}
ACME_DIRECTORY = {"scopes": ["directory"], "tenants": ["acme"]}


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, BrokerUser]]:
    yield from broker_users("tenders", "directory", "stranger")


def _producers(users: dict[str, BrokerUser]) -> dict[str, Any]:
    return {users["tenders"].name: ACME_TENDERS, users["directory"].name: ACME_DIRECTORY}


def _key(event: dict[str, Any]) -> str:
    return f"{event['source']}.{event['type']}"


def _directory_update(n: int, user: str, email: str) -> dict[str, Any]:
    return make_event(
        n, source="directory", type="user.updated", recipients={}, payload={"email": email},
        entity={"type": "user", "id": user, "attributes": {}},
    )  # fmt: skip


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessions() as session:
        return list((await session.scalars(select(Event))).all())


def _by_raw(rows: list[Event], body: dict[str, Any]) -> Event:
    import json

    raw = json.dumps(body).encode()
    [row] = [r for r in rows if bytes(r.raw or b"") == raw or r.body == body]
    return row


async def _ingest_until(
    sessions: async_sessionmaker[AsyncSession], settings: Any, amqp_url: str, total: int
) -> None:
    async with running(create_app(settings)):
        await eventually(lambda: _stored_at_least(sessions, total), timeout_s=30)
    assert await count_events(sessions) == total
    assert await queue_depth(amqp_url, INGEST_QUEUE) == 0  # every one acked


async def _stored_at_least(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await count_events(sessions) >= n


async def test_each_producer_emits_only_what_its_broker_user_may(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    users: dict[str, BrokerUser],
) -> None:
    tenders, directory, stranger = users["tenders"], users["directory"], users["stranger"]
    await grant_producers(amqp_url, list(users.values()))
    await declare_ingest_queue(amqp_url)
    await add(sessions, person("u-17", tenant="acme", email="victim@example.com"))
    await add(sessions, person("u-18", tenant="acme", email="old@example.com"))

    good = make_event(1)
    async with EventProducer.amqp(tenders.url(amqp_url)) as producer:  # least privilege
        await producer.emit(good)
    hijack = _directory_update(7, "u-17", "attacker@example.com")
    moved = _directory_update(9, "u-18", "new@example.com")
    # body → (connection, routing key, user_id, headers) and the reason it must be rejected for
    refused: list[tuple[dict[str, Any], str, str, str | None, dict[str, Any], str]] = [
        (make_event(2), amqp_url, _key(good), None, {}, "unauthenticated: message has no user_id"),
        (make_event(3), amqp_url, _key(good), "guest", {}, "'guest' is not in"),
        (make_event(4), stranger.url(amqp_url), _key(good), stranger.name, {},
         f"{stranger.name}' is not in"),
        (make_event(5, source="approvals"), tenders.url(amqp_url), "approvals.tender."
         "requirement_added", tenders.name, {}, "may not emit source 'approvals'"),
        (make_event(6, tenant="beta"), tenders.url(amqp_url), _key(good), tenders.name, {},
         "may not act in tenant 'beta'"),
        (make_event(8), tenders.url(amqp_url), "tenders.tender.closed", tenders.name, {},
         "routing_key: 'tenders.tender.closed' is not 'tenders.tender.requirement_added'"),
        (hijack, tenders.url(amqp_url), _key(hijack), tenders.name, {},
         "lacks the 'directory' scope"),
        # a replay header only counts on messages that came straight to the queue
        ({**hijack, "id": "forged-replay"}, tenders.url(amqp_url), _key(hijack), tenders.name,
         {USER_HEADER: directory.name}, "lacks the 'directory' scope"),
        # the directory's own user, under another routing key
        ({**moved, "id": "wrong-key"}, directory.url(amqp_url), _key(good), directory.name, {},
         "routing_key:"),
    ]  # fmt: skip
    for body, url, key, user_id, headers, _ in refused:
        await publish_as(url, key, body, user_id=user_id, headers=headers)
    await publish_as(directory.url(amqp_url), _key(moved), moved, user_id=directory.name)

    settings = ingest_settings(database_url, amqp_url, amqp_producers=_producers(users))
    await _ingest_until(sessions, settings, amqp_url, len(refused) + 2)

    rows = await _rows(sessions)
    for body, *_, reason in refused:
        row = _by_raw(rows, body)
        assert row.status == EventStatus.REJECTED.value, (body["id"], row.status)
        assert row.error is not None and reason in row.error, (body["id"], row.error)
    received = [r for r in rows if r.status == EventStatus.RECEIVED.value]
    assert {r.source_event_id for r in received} == {good["id"], moved["id"]}

    worker = await processor(sessions, database_url)
    assert await worker.process_ids([r.id for r in received]) == 2
    async with sessions() as session:
        victim = await session.get(Recipient, ("acme", "u-17"))
        mover = await session.get(Recipient, ("acme", "u-18"))
    assert victim is not None and victim.email == "victim@example.com"
    assert mover is not None and mover.email == "new@example.com"  # the directory path works


async def test_the_broker_refuses_a_forged_user_id_and_the_default_exchange(
    amqp_url: str, users: dict[str, BrokerUser]
) -> None:
    """What the mapping stands on: a producer cannot claim another user, nor write straight
    into Herald's queue (where a replay header would be believed)."""
    tenders, directory = users["tenders"], users["directory"]
    await grant_producers(amqp_url, [tenders])
    await declare_ingest_queue(amqp_url)
    event = _directory_update(1, "u-17", "attacker@example.com")
    with pytest.raises(ChannelPreconditionFailed, match="user_id property set to"):
        await publish_as(tenders.url(amqp_url), _key(event), event, user_id=directory.name)
    with pytest.raises(ChannelAccessRefused, match=r"amq\.default"):
        await publish_as(
            tenders.url(amqp_url), INGEST_QUEUE, event, user_id=tenders.name, exchange="",
            headers={USER_HEADER: directory.name},
        )  # fmt: skip
    assert await queue_depth(amqp_url, INGEST_QUEUE) == 0


async def test_without_producers_the_broker_is_trusted_but_routing_keys_are_checked(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await declare_ingest_queue(amqp_url)
    anyone, mislabeled = make_event(1, tenant="beta"), make_event(2)
    await publish_as(amqp_url, _key(anyone), anyone)  # no user_id at all
    await publish_as(amqp_url, "tenders.tender.closed", mislabeled)
    with caplog.at_level(logging.WARNING, logger="herald.ingest"):
        await _ingest_until(sessions, ingest_settings(database_url, amqp_url), amqp_url, 2)
    assert "HERALD_AMQP_PRODUCERS is not set" in caplog.text
    rows = await _rows(sessions)
    assert _by_raw(rows, anyone).status == EventStatus.RECEIVED.value
    wrong = _by_raw(rows, mislabeled)
    assert wrong.status == EventStatus.REJECTED.value
    assert wrong.error is not None and wrong.error.startswith("routing_key:")


async def test_a_replayed_dead_letter_is_judged_by_its_first_publisher(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    users: dict[str, BrokerUser],
) -> None:
    """``herald dlq replay`` re-drives as the operator, straight into the queue: the event
    keeps its producer's rights, no more (a forbidden one stays forbidden) and no less."""
    tenders = users["tenders"]
    await grant_producers(amqp_url, [tenders])
    await declare_ingest_queue(amqp_url)
    allowed, forbidden = make_event(1), make_event(2, tenant="beta")
    for body in (allowed, forbidden):
        await publish_as(tenders.url(amqp_url), _key(body), body, user_id=tenders.name)
    await _dead_letter_all(amqp_url, 2)
    assert await replay(amqp_url, INGEST_QUEUE) == 2  # as guest, who is not a producer

    settings = ingest_settings(database_url, amqp_url, amqp_producers=_producers(users))
    await _ingest_until(sessions, settings, amqp_url, 2)
    rows = await _rows(sessions)
    assert _by_raw(rows, allowed).status == EventStatus.RECEIVED.value
    refused = _by_raw(rows, forbidden)
    assert refused.error is not None and "may not act in tenant 'beta'" in refused.error


async def _dead_letter_all(amqp_url: str, n: int) -> None:
    """What a message that failed too often goes through: rejected into herald.ingest.dead."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(INGEST_QUEUE)
        for _ in range(n):
            message = await queue.get(no_ack=False)
            assert message is not None
            await message.reject(requeue=False)
    await eventually(lambda: _depth(amqp_url, f"{INGEST_QUEUE}.dead", n))


async def _depth(amqp_url: str, queue: str, n: int) -> bool:
    return await queue_depth(amqp_url, queue) == n
