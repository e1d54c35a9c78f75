"""<herald-preferences> on the inbox page's Settings tab, in a real headless Chromium against
the running system: a mode per module × channel saved; a mode the server refuses (the event
type became critical after the page loaded) shows the 422 and leaves the stored setting and
the screen as they were; a digest schedule saved; a saved filter created with a live preview
that rides out a 429, edited, deleted; Telegram linked through the deep link and unlinked;
no Content-Security-Policy violation; axe-core finds nothing serious."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select, update

from herald.emit import sample_event
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.models import (
    ChannelPreference,
    DigestSchedule,
    EventType,
    Recipient,
    Subscription,
)
from tests.acceptance.browser.browser import chromium, click, js, screenshot, wait_for
from tests.acceptance.browser.components import (
    axe_violations,
    csp_violations,
    inside,
    one,
    record_csp_violations,
    text_in,
)
from tests.acceptance.browser.stack import Stack
from tests.apps import API_KEY, user_token
from tests.integration.services.ingest.admin.admin_support import admin_settings

PREFS = "herald-preferences"
BOT = "herald_test_bot"
USER = "u-17"
SCREENSHOT_HEIGHT_PX = 2000


def cell(source: str, channel: str) -> str:
    return f'tr[data-source="{source}"] select[data-channel="{channel}"]'


def mode(driver: WebDriver, source: str, channel: str) -> str:
    return str(one(driver, PREFS, cell(source, channel)).get_attribute("value"))


def choose(driver: WebDriver, css: str, value: str) -> None:
    js(
        driver,
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        one(driver, PREFS, css),
        value,
    )


def type_into(driver: WebDriver, css: str, text: str) -> None:
    field = one(driver, PREFS, css)
    field.clear()
    field.send_keys(text)


def alert(driver: WebDriver) -> str:
    return text_in(driver, PREFS, "p.error[role=alert]")


class Db:
    """Reads and writes of the test's database from the services' loop."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def query(self, statement: Any) -> Any:
        async def run() -> Any:
            engine = make_engine(self.stack.database_url)
            try:
                async with transaction(make_sessionmaker(engine)) as session:
                    result = await session.execute(statement)
                    return result.all() if statement.is_select else None
            finally:
                await engine.dispose()

        return self.stack.run(run())


def test_preferences_component_flows(database_url: str, amqp_url: str, tmp_path: Path) -> None:
    settings = admin_settings(telegram_bot_username=BOT, preview_burst=1, preview_rate_per_s=0.5)
    with (
        Stack(database_url, amqp_url, tmp_path, settings, full=True) as stack,
        chromium(tmp_path / "profile") as driver,
    ):
        db = Db(stack)
        event = sample_event()
        response = httpx.post(
            f"{stack.ingest_url}/v1/events", json=event, headers={"X-API-Key": API_KEY}
        )
        assert response.status_code in (200, 201, 202), response.text
        record_csp_violations(driver)
        driver.get(f"{stack.ingest_url}/inbox/?ws={quote(stack.ws_url)}#token={user_token(USER)}")
        click(driver, wait_for(driver, lambda d: d.find_element("id", "tab-settings"), "tabs"))
        wait_for(driver, lambda d: inside(d, PREFS, cell("tenders", "email")), "the modes")

        # what the server says in advance: no digest for the browser, critical can't be off
        assert one(driver, PREFS, cell("tenders", "browser") + " option[value=digest]")
        assert not js(driver, "return arguments[0].disabled;", one(
            driver, PREFS, cell("tenders", "email") + " option[value=digest]"))  # fmt: skip
        assert js(driver, "return arguments[0].disabled;", one(
            driver, PREFS, cell("tenders", "browser") + " option[value=digest]"))  # fmt: skip
        assert "cannot turn off" in text_in(driver, PREFS, 'tr[data-source="approvals"]')

        # a mode saved
        choose(driver, cell("tenders", "email"), "digest")
        wait_for(driver, lambda d: saved_mode(db, "tenders", "email") == "digest", "the save")
        wait_for(driver, lambda d: mode(d, "tenders", "email") == "digest", "digest shown")

        # refused: the module's type became critical after the page loaded (the screen is
        # stale, so "off" is still offered); the 422 is shown, nothing changes
        db.query(
            update(EventType)
            .where(EventType.key == "tenders.tender.requirement_added")
            .values(critical=True)
        )
        choose(driver, cell("tenders", "email"), "off")
        wait_for(driver, lambda d: "refused" in alert(d), "the refusal shown")
        assert "critical" in alert(driver)
        wait_for(driver, lambda d: mode(d, "tenders", "email") == "digest", "the old mode")
        assert saved_mode(db, "tenders", "email") == "digest"
        assert "cannot turn off" in text_in(driver, PREFS, 'tr[data-source="tenders"]')

        # the digest schedule of e-mail: Monday and Wednesday at 08:30 in Berlin
        form = 'form[data-channel="email"]'
        for day in range(7):
            box = one(driver, PREFS, f'{form} input[type=checkbox][value="{day}"]')
            if box.is_selected() != (day in (0, 2)):
                click(driver, box)
        js(driver, "arguments[0].value = '08:30';", one(driver, PREFS, f"{form} input[type=time]"))
        type_into(driver, f"{form} input[type=text]", "Europe/Berlin")
        click(driver, one(driver, PREFS, f"{form} button[type=submit]"))
        wait_for(driver, lambda d: "Saved" in text_in(d, PREFS, f"{form} [role=status]"), "saved")
        rows = db.query(select(DigestSchedule).where(DigestSchedule.user_id == USER))
        schedule = rows[0][0]
        assert (schedule.channel, list(schedule.days_of_week)) == ("email", [0, 2])
        assert (schedule.time_of_day, schedule.timezone) == ("08:30", "Europe/Berlin")

        subscriptions_flow(driver, db)
        telegram_flow(driver, db)
        assert axe_violations(driver) == []
        assert csp_violations(driver) == []


def saved_mode(db: Db, source: str, channel: str) -> str | None:
    rows = db.query(
        select(ChannelPreference.mode).where(
            ChannelPreference.user_id == USER,
            ChannelPreference.source == source,
            ChannelPreference.channel == channel,
        )
    )
    return str(rows[0][0]) if rows else None


def preview_text(driver: WebDriver) -> str:
    return text_in(driver, PREFS, ".preview")


def subscriptions_flow(driver: WebDriver, db: Db) -> None:
    click(driver, one(driver, PREFS, ".new-subscription"))
    type_into(driver, "input[name=name]", "Basement")
    type_into(driver, "input[name=source]", "tenders")
    type_into(driver, "input[name=entity_type]", "tender")
    wait_for(driver, lambda d: "1 of 1 recent events match" in preview_text(d), "a preview")
    # at once a condition: the next preview is over the limit (burst 1, one per 2 s)
    click(driver, one(driver, PREFS, ".add-condition"))
    type_into(driver, ".condition input[aria-label=Field]", "section")
    type_into(driver, ".condition input[aria-label=Value]", "roof")
    wait_for(driver, lambda d: "Too many previews" in preview_text(d), "the 429 shown")
    wait_for(driver, lambda d: "0 of 1 recent events match" in preview_text(d), "its retry")
    click(driver, one(driver, PREFS, ".subscription-form button[type=submit]"))
    wait_for(driver, lambda d: inside(d, PREFS, ".subscriptions li.item"), "the saved filter")
    stored = db.query(select(Subscription).where(Subscription.user_id == USER))
    assert [(s.name, s.filter[0]["value"]) for (s,) in stored] == [("Basement", "roof")]

    click(driver, one(driver, PREFS, ".subscriptions .edit"))
    type_into(driver, ".condition input[aria-label=Value]", "basement")
    wait_for(driver, lambda d: "1 of 1 recent events match" in preview_text(d), "the edit preview")
    driver.set_window_size(1440, SCREENSHOT_HEIGHT_PX)  # the whole component, editor open
    js(driver, "window.scrollTo(0, 0);")
    screenshot(driver, "preferences.png")
    click(driver, one(driver, PREFS, ".subscription-form button[type=submit]"))
    wait_for(driver, lambda d: not inside(d, PREFS, ".subscription-form"), "the editor closed")
    stored = db.query(select(Subscription).where(Subscription.user_id == USER))
    assert [s.filter[0]["value"] for (s,) in stored] == ["basement"]

    click(driver, one(driver, PREFS, ".subscriptions .delete"))
    wait_for(driver, lambda d: not inside(d, PREFS, ".subscriptions li.item"), "deleted")
    assert db.query(select(Subscription).where(Subscription.user_id == USER)) == []


def telegram_flow(driver: WebDriver, db: Db) -> None:
    assert text_in(driver, PREFS, ".telegram-state") == "Telegram is not linked"
    click(driver, one(driver, PREFS, ".telegram .link"))
    link = wait_for(driver, lambda d: inside(d, PREFS, "a.deep-link"), "the deep link")[0]
    assert str(link.get_attribute("href")).startswith(f"https://t.me/{BOT}?start=")
    # the user pressed Start in Telegram: the sender's bot side stores the chat
    db.query(update(Recipient).where(Recipient.user_id == USER).values(telegram_chat_id="4242"))
    wait_for(
        driver, lambda d: text_in(d, PREFS, ".telegram-state") == "Telegram is linked", "linked"
    )
    click(driver, one(driver, PREFS, ".telegram .unlink"))
    wait_for(driver, lambda d: "not linked" in text_in(d, PREFS, ".telegram-state"), "unlinked")
    rows = db.query(select(Recipient.telegram_chat_id).where(Recipient.user_id == USER))
    assert rows == [(None,)]
