"""Priority decides channels (DESIGN §6): critical always instant, low held back from the
intrusive channels, and the browser never waits for a digest — on real PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import ChannelPreference, DigestSchedule, EventType, utcnow
from tests.integration.services.processor.support import add, event, person, processor, rows, store

EMAIL, BROWSER, TELEGRAM = "email", "browser", "telegram"


def pref(channel: str, mode: str, source: str = "tenders", user: str = "u-17") -> Any:
    return ChannelPreference(
        tenant="default", user_id=user, source=source, channel=channel, mode=mode
    )


def schedule(channel: str, enabled: bool = True, user: str = "u-17") -> DigestSchedule:
    now = utcnow()
    return DigestSchedule(
        tenant="default", user_id=user, channel=channel, days_of_week=[0, 1, 2, 3, 4],
        time_of_day="09:00", timezone="UTC", enabled=enabled, window_start=now,
        next_run_at=now if enabled else None, updated_at=now,
    )  # fmt: skip


async def planned(
    sessions: async_sessionmaker[AsyncSession], url: str, priority: str, **over: Any
) -> dict[str, tuple[str, str]]:
    """channel -> (status, reason) of u-17's deliveries for one event of this priority."""
    body = event(priority=priority, recipients={"assignee": ["u-17"]}, **over)
    event_id = await store(sessions, body)
    assert await (await processor(sessions, url)).process_ids([event_id]) == 1
    return {channel: (status, why) for _, _, channel, status, why in await rows(sessions, event_id)}


async def test_critical_reaches_a_user_who_switched_email_off_and_put_telegram_on_digest(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="1717"))
    await add(sessions, pref(EMAIL, "off"), pref(TELEGRAM, "digest"), pref(BROWSER, "off", "*"))
    got = await planned(sessions, database_url, "critical")
    assert {ch: status for ch, (status, _) in got.items()} == {
        EMAIL: "PENDING",  # a default channel of the type: never switched off
        BROWSER: "PENDING",
        TELEGRAM: "PENDING",  # the user's digest channel: never digested
    }
    assert "critical" in got[EMAIL][1] and "off" in got[EMAIL][1]
    assert "critical" in got[TELEGRAM][1] and "digest" in got[TELEGRAM][1]
    normal = await planned(sessions, database_url, "normal", id="e-2")  # the same person
    assert {ch: status for ch, (status, _) in normal.items()} == {
        EMAIL: "SKIPPED",
        BROWSER: "SKIPPED",
        TELEGRAM: "DIGEST",
    }


async def test_low_is_inbox_only_on_email_without_a_digest_or_an_instant_choice(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17"))
    got = await planned(sessions, database_url, "low")
    assert got[BROWSER] == ("PENDING", "direct:assignee")  # the browser is not intrusive
    status, why = got[EMAIL]
    assert status == "SKIPPED"
    assert "low priority" in why and "inbox only" in why and "no email digest" in why


async def test_low_waits_for_the_users_digest_schedule(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="1717"))
    await add(sessions, pref(TELEGRAM, "instant"), schedule(EMAIL), schedule(TELEGRAM))
    got = await planned(sessions, database_url, "low")
    assert got[EMAIL][0] == "DIGEST" and "low priority" in got[EMAIL][1]
    # an explicit instant choice for the module still sends at once
    assert got[TELEGRAM][0] == "PENDING" and "chosen" in got[TELEGRAM][1]


async def test_low_follows_an_instant_for_all_modules_and_a_digest_mode(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="1717"))
    await add(sessions, pref(EMAIL, "instant", "*"), pref(TELEGRAM, "digest"))
    got = await planned(sessions, database_url, "low")
    assert got[EMAIL][0] == "PENDING" and "chosen for all modules" in got[EMAIL][1]
    assert got[TELEGRAM][0] == "DIGEST"  # the user asked for a digest of this module


async def test_low_with_a_disabled_schedule_or_a_type_that_may_not_wait_is_inbox_only(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17"), schedule(EMAIL, enabled=False))
    assert (await planned(sessions, database_url, "low"))[EMAIL][0] == "SKIPPED"
    await add(
        sessions,
        EventType(key="tenders.tender.now", source="tenders", digestible=False,
                  default_channels=[EMAIL]),
        pref(EMAIL, "digest"),
    )  # fmt: skip
    got = await planned(sessions, database_url, "low", id="e-2", type="tender.now")
    assert got[EMAIL][0] == "SKIPPED" and "inbox only" in got[EMAIL][1]


async def test_a_stored_browser_digest_preference_never_makes_a_browser_digest_delivery(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """A row the API refuses today (written before, or by hand): the browser goes instant."""
    await add(sessions, person("u-17"), pref(BROWSER, "digest"), schedule(BROWSER))
    for priority in ("normal", "low"):
        got = await planned(sessions, database_url, priority, id=f"e-{priority}")
        status, why = got[BROWSER]
        assert status == "PENDING" and "the browser has no digest" in why, priority
