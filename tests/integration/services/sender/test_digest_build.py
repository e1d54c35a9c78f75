"""Building a digest: grouped by module, repeats collapsed, rendered, sent like any other."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import DeliveryStatus, DigestSchedule, Template
from libs.common.delivery.digest_schedule import as_utc
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.sender.providers.outbox import OutboxProvider
from services.sender.worker import Sender
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_user,
    add_waiting,
    digests,
    schedule_of,
    scheduler,
    statuses,
    utc,
)
from tests.integration.services.sender.support import mediator, sender_settings

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)  # 09:00 in Moscow
RUN = utc(2026, 11, 27, 6)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def fill(sessions: Sessions, user: str = "u-1") -> dict[str, list[int]]:
    """Three updates of T-1, one of T-2, two of approval A-9, a straggler, a late one."""
    t = START + timedelta(hours=1)
    ids: dict[str, list[int]] = {"t1": [], "other": [], "late": []}
    for n in range(3):
        ids["t1"].append(
            await add_waiting(sessions, user, t + timedelta(minutes=n), title=f"T-1 v{n + 1}")
        )
    ids["other"].append(await add_waiting(sessions, user, t, entity_id="T-2", title="T-2 new"))
    for n in range(2):
        ids["other"].append(
            await add_waiting(
                sessions, user, t, source="approvals", entity_id="A-9", title=f"A-9 step {n}"
            )
        )
    # committed after the previous digest although created before it: still collected
    ids["other"].append(
        await add_waiting(sessions, user, START - timedelta(days=1), entity_id="T-3", title="T-3")
    )
    ids["late"].append(await add_waiting(sessions, user, RUN + timedelta(minutes=1)))
    return ids


async def test_grouped_collapsed_rendered_and_marked(sessions: Sessions) -> None:
    await add_user(sessions, "u-1", locale="en")
    await add_schedule(sessions, "u-1", window_start=START)
    ids = await fill(sessions)
    built_before = metric("herald_digests_built_total", channel="email")

    result = await scheduler(sessions).tick(RUN + timedelta(seconds=5))

    assert (result.digests, result.items) == (1, 7)
    [b] = await digests(sessions)
    assert (b.digest.window_start, b.digest.window_end, b.digest.item_count) == (START, RUN, 7)
    assert sorted(b.item_ids) == sorted(ids["t1"] + ids["other"])
    own = b.delivery
    assert (own.notification_id, own.status, own.channel, own.reason) == (
        None,
        DeliveryStatus.PENDING.value,
        "email",
        "digest",
    )
    assert own.subject == "Herald digest: 7 notifications"
    assert "tenders (5)" in own.body and "approvals (2)" in own.body
    assert "T-1 v3 (×3)" in own.body and "T-1 v1" not in own.body  # latest state + count
    assert "A-9 step 1 (×2)" in own.body
    assert "From 2026-11-26 09:00 to 2026-11-27 09:00" in own.body  # the user's local time
    assert own.body_html is not None and "<b>×3</b>" in own.body_html
    assert await statuses(sessions, ids["t1"] + ids["other"]) == ["DIGESTED"] * 7
    assert await statuses(sessions, ids["late"]) == ["DIGEST"]  # after the window: next one
    s = await schedule_of(sessions, "u-1")
    assert (s.window_start, s.next_run_at) == (RUN, RUN + timedelta(days=1))
    assert metric("herald_digests_built_total", channel="email") == built_before + 1


async def test_empty_window_sends_nothing_and_still_advances(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    result = await scheduler(sessions).tick(RUN + timedelta(seconds=1))
    assert (result.digests, result.empty) == (0, 1)
    assert await digests(sessions) == []
    s = await schedule_of(sessions, "u-1")
    assert (s.window_start, s.next_run_at) == (RUN, RUN + timedelta(days=1))


async def test_not_due_yet_builds_nothing(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    await fill(sessions)
    assert (await scheduler(sessions).tick(RUN - timedelta(seconds=1))).digests == 0
    assert (await schedule_of(sessions, "u-1")).next_run_at == RUN


async def test_russian_template_for_a_russian_user(sessions: Sessions) -> None:
    await add_user(sessions, "u-ru", locale="ru")
    await add_schedule(sessions, "u-ru", window_start=START)
    await add_waiting(sessions, "u-ru", START + timedelta(hours=2), title="Замечание")
    await scheduler(sessions).tick(RUN)
    [b] = await digests(sessions)
    assert b.delivery.subject == "Дайджест Herald: уведомлений — 1"
    assert "Замечание" in b.delivery.body


async def test_a_broken_operator_template_falls_back_to_the_default(sessions: Sessions) -> None:
    await add_user(sessions, "u-1", locale="en")
    await add_schedule(sessions, "u-1", window_start=START)
    await add_waiting(sessions, "u-1", START + timedelta(hours=2), title="Still arrives")
    async with sessions() as s, s.begin():
        await s.execute(
            update(Template)
            .where(Template.event_type == "herald.digest", Template.channel == "email")
            .values(subject="{{ digest.nope.deeper }}")
        )
    await scheduler(sessions).tick(RUN)
    [b] = await digests(sessions)
    assert b.delivery.subject == "Herald digest: 1 notifications"
    assert "Still arrives" in b.delivery.body


def deny_t2_unsure_approvals(item: PermissionItem) -> PermissionAnswer:
    if item.object_id == "T-2":
        return PermissionAnswer(read=False)
    if item.module == "approvals":
        return PermissionAnswer(read=False, error="approvals backend timed out")
    return PermissionAnswer(read=True)


async def test_rights_are_checked_when_the_digest_is_built(sessions: Sessions) -> None:
    await add_user(sessions, "u-1", locale="en")
    await add_schedule(sessions, "u-1", window_start=START)
    ids = await fill(sessions)
    await scheduler(sessions, mediator(deny_t2_unsure_approvals)).tick(RUN)
    [b] = await digests(sessions)
    t2, a1, a2, t3 = ids["other"]
    assert sorted(b.item_ids) == sorted([*ids["t1"], t3])
    assert "T-2" not in b.delivery.body
    assert await statuses(sessions, [t2, a1, a2]) == ["DENIED", "DIGEST", "DIGEST"]
    # undetermined items wait for the next digest and are asked about again
    await scheduler(sessions).tick(RUN + timedelta(days=1))
    second = (await digests(sessions))[1]
    assert sorted(second.item_ids) == sorted([a1, a2, *ids["late"]])


async def test_mediator_down_postpones_and_keeps_everything(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    ids = await fill(sessions)
    await scheduler(sessions, mediator(down=True)).tick(RUN)
    assert await digests(sessions) == []
    assert set(await statuses(sessions, ids["t1"] + ids["other"])) == {"DIGEST"}
    s = await schedule_of(sessions, "u-1")
    assert (s.window_start, s.next_run_at) == (START, RUN + timedelta(seconds=60))
    await scheduler(sessions).tick(RUN + timedelta(seconds=61))
    [b] = await digests(sessions)
    # the postponed run ends its window at the postponed time; the late item (created at that
    # very instant) is not before it and waits for the next digest
    assert (b.digest.window_end, len(b.item_ids)) == (RUN + timedelta(seconds=60), 7)


async def test_one_broken_schedule_does_not_hold_back_the_others(sessions: Sessions) -> None:
    for user in ("u-bad", "u-good"):
        await add_schedule(sessions, user, window_start=START)
        await add_waiting(sessions, user, START + timedelta(hours=1))
    async with sessions() as s, s.begin():  # e.g. an operator's typo in the admin
        await s.execute(
            update(DigestSchedule)
            .where(DigestSchedule.user_id == "u-bad")
            .values(timezone="Mars/Olympus")
        )
    result = await scheduler(sessions).tick(RUN)
    assert (result.digests, result.failed) == (1, 1)
    assert [b.digest.user_id for b in await digests(sessions)] == ["u-good"]
    bad = await schedule_of(sessions, "u-bad")
    assert (bad.window_start, bad.next_run_at) == (START, RUN + timedelta(seconds=300))


async def test_the_digest_is_sent_like_any_other_delivery(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    await add_user(sessions, "u-1", locale="en")
    await add_schedule(sessions, "u-1", window_start=START)
    await fill(sessions)
    await scheduler(sessions).tick(RUN)
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(), sender_settings(database_url))
    with time_machine.travel(RUN + timedelta(minutes=1)):  # the digest is due from RUN
        assert await sender.run_once() == 1
        await sender.recorder.flush()
    [b] = await digests(sessions)
    assert b.delivery.status == "SENT"
    mail = (tmp_path / f"delivery-{b.delivery.id}.eml").read_text()
    assert "Herald digest: 7 notifications" in mail and "u-1@example.com" in mail


async def test_embedded_sqlite_builds_digests_too(tmp_path: Path) -> None:
    """`herald dev` runs on SQLite: no SKIP LOCKED (one writer at a time), no set-based paths."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        lite = make_sessionmaker(engine)
        async with transaction(lite) as session:
            await seed_defaults(session)
        await add_user(lite, "u-1", locale="en")
        await add_schedule(lite, "u-1", window_start=START)
        ids = await fill(lite)
        result = await scheduler(lite).tick(RUN)
        assert (result.digests, result.items) == (1, 7)
        [b] = await digests(lite)
        assert sorted(b.item_ids) == sorted(ids["t1"] + ids["other"])
        assert "T-1 v3 (×3)" in b.delivery.body
        s = await schedule_of(lite, "u-1")
        assert s.next_run_at is not None
        assert (as_utc(s.window_start), as_utc(s.next_run_at)) == (RUN, RUN + timedelta(days=1))
        late = await add_waiting(lite, "u-late", RUN)  # no schedule: a default one is made
        assert (await scheduler(lite).tick(RUN + timedelta(minutes=1))).provisioned == 1
        assert await statuses(lite, [late]) == ["DIGEST"]
    finally:
        await engine.dispose()
