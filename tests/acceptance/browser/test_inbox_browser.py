"""<herald-inbox> on the inbox page, in a real headless Chromium against the whole running
system: a notification arrives live and moves the badge; read, unread, archive, the archive
view, the module filter and read-all; the gateway restarts while notifications are sent and
the page resumes from its cursor with nothing lost and nothing delivered twice; Russian from
the token's locale; no Content-Security-Policy violation; axe-core finds nothing serious."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import func, select

from herald.emit import sample_event
from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.models import Delivery, Event, Notification
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
from tests.apps import API_KEY, eventually, user_token
from tests.integration.services.ingest.admin.admin_support import admin_settings

INBOX = "herald-inbox"
TITLE = "Add fire-safety certificate"

# every notification frame any socket of the page receives, and every auth it sends
WIRE_RECORDER = """
window.__notified = []; window.__auths = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (e) => {
      const f = JSON.parse(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data));
      if (f.type === 'notification') window.__notified.push(f.item.id);
    });
  }
  send(data) {
    const m = JSON.parse(data);
    if (m.type === 'auth') window.__auths.push(m.resume || null);
    super.send(data);
  }
};
"""


def badge(driver: WebDriver) -> str:
    return text_in(driver, INBOX, ".badge")


def titles(driver: WebDriver) -> list[str]:
    return [str(el.text) for el in inside(driver, INBOX, "li.item .title")]


def state(driver: WebDriver) -> str:
    return str(one(driver, INBOX, ".status").get_attribute("data-state"))


def emit(stack: Stack, title: str, **changes: Any) -> dict[str, Any]:
    event = sample_event()
    event["payload"]["title"] = title
    event.update(changes)
    response = httpx.post(
        f"{stack.ingest_url}/v1/events", json=event, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code in (200, 201, 202), response.text
    return event


def open_page(driver: WebDriver, stack: Stack, token: str, until: str = "live") -> None:
    driver.get("about:blank")  # a URL differing only in its fragment would not load anew
    driver.get(f"{stack.ingest_url}/inbox/?ws={quote(stack.ws_url)}#token={token}")
    wait_for(driver, lambda d: inside(d, INBOX, ".status") and state(d) == until, until)


def test_inbox_component_live_actions_resume_and_accessibility(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    with (
        Stack(database_url, amqp_url, tmp_path, admin_settings(), full=True) as stack,
        chromium(tmp_path / "profile") as driver,
    ):
        record_csp_violations(driver)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WIRE_RECORDER})
        open_page(driver, stack, user_token("u-17"))
        assert badge(driver) == "0" and titles(driver) == []
        js(driver, "window.__notReloaded = true;")

        emit(stack, TITLE)
        wait_for(driver, lambda d: titles(d) == [TITLE], "the notification to arrive live")
        wait_for(driver, lambda d: badge(d) == "1", "the badge from the counts frame")
        assert "unread" in (one(driver, INBOX, "li.item").get_attribute("class") or "")
        screenshot(driver, "inbox-live.png")

        # keyboard: focus "Mark read" and press Enter
        button = one(driver, INBOX, "li.item .mark-read")
        js(driver, "arguments[0].focus();", button)
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: badge(d) == "0", "the badge after mark read")
        click(driver, one(driver, INBOX, "li.item .mark-unread"))
        wait_for(driver, lambda d: badge(d) == "1", "the badge after mark unread")
        click(driver, one(driver, INBOX, "li.item .archive"))
        wait_for(driver, lambda d: titles(d) == [] and badge(d) == "0", "the item archived")
        choose(driver, ".view", "archived")
        wait_for(driver, lambda d: titles(d) == [TITLE], "the archive view")
        click(driver, one(driver, INBOX, "li.item .unarchive"))
        wait_for(driver, lambda d: titles(d) == [] and badge(d) == "1", "the item restored")
        choose(driver, ".view", "all")
        wait_for(driver, lambda d: titles(d) == [TITLE], "the inbox again")

        # the module filter: the options come from the counts and the items seen
        wait_for(driver, lambda d: inside(d, INBOX, ".source option[value=tenders]"), "options")
        choose(driver, ".source", "tenders")
        wait_for(driver, lambda d: titles(d) == [TITLE], "the tenders filter")
        choose(driver, ".source", "")

        # the gateway goes away; two notifications are delivered meanwhile; the page resumes
        first_cursor_auths = len(js(driver, "return window.__auths;"))
        stack.restart_gateway(emit_and_wait_sent(stack, ["Missed one", "Missed two"]))
        wait_for(driver, lambda d: len(titles(d)) == 3, "the missed notifications after resume")
        wait_for(driver, lambda d: state(d) == "live", "live again after the resume")
        shown = titles(driver)  # newest (largest id) first; the two may be numbered either way
        assert sorted(shown[:2]) == ["Missed one", "Missed two"] and shown[2] == TITLE
        wait_for(driver, lambda d: badge(d) == "3", "the badge after resume")
        notified = js(driver, "return window.__notified;")
        assert len(notified) == len(set(notified)) == 3, notified  # none lost, none twice
        auths = js(driver, "return window.__auths;")
        assert auths[0] is None and len(auths) > first_cursor_auths
        assert all(a for a in auths[first_cursor_auths:]), "every reconnect resumes a cursor"
        assert js(driver, "return window.__notReloaded === true;")

        click(driver, one(driver, INBOX, ".read-all"))
        wait_for(driver, lambda d: badge(d) == "0", "the badge after read-all")
        assert not inside(driver, INBOX, "li.item.unread")

        assert axe_violations(driver) == []
        assert csp_violations(driver) == []

        open_page(driver, stack, user_token("u-17", locale="ru"))
        assert text_in(driver, INBOX, "h2") == "Входящие"
        assert text_in(driver, INBOX, ".status") == "на связи"

        # a token the gateway refuses (4401) twice, the fresh one included: offline, no loop
        open_page(driver, stack, user_token("u-17", ttl_s=-60), until="offline")
        assert js(driver, "return window.__auths.length;") == 2
        assert text_in(driver, INBOX, ".status") == "offline: sign in again"


def choose(driver: WebDriver, css: str, value: str) -> None:
    js(
        driver,
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        one(driver, INBOX, css),
        value,
    )


async def emit_and_wait_sent(stack: Stack, titles_: list[str]) -> None:
    """Emit while no gateway runs and wait until the browser deliveries are SENT: their live
    pushes went nowhere, so only the resume can bring them to the page."""
    ids = []
    async with httpx.AsyncClient() as client:  # on the services' own loop: never block it
        for title in titles_:
            event = sample_event()
            event["payload"]["title"] = title
            response = await client.post(
                f"{stack.ingest_url}/v1/events", json=event, headers={"X-API-Key": API_KEY}
            )
            assert response.status_code in (200, 201, 202), response.text
            ids.append(event["id"])
    engine = make_engine(stack.database_url)

    async def sent() -> bool:
        async with make_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(Notification, Notification.id == Delivery.notification_id)
                .join(Event, Event.id == Notification.event_id)
                .where(
                    Event.source_event_id.in_(ids),
                    Notification.user_id == "u-17",
                    Delivery.channel == "browser",
                    Delivery.status == "SENT",
                )
            )
            return count == len(ids)

    try:
        await eventually(sent, timeout_s=20.0)
    finally:
        await engine.dispose()
