"""The live inbox page in a real headless Chromium against the whole running system: an
event emitted over HTTP appears on the page and the bell's counter changes without a reload;
marking it read updates the counter again; after the gateway restarts, the page reconnects
and resumes, and a notification sent while it was away arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from herald.emit import sample_event
from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.models import Delivery, Event, Notification
from tests.apps import API_KEY, eventually, user_token
from tests.browser.browser import chromium, click, js, screenshot, text_of, wait_for
from tests.browser.stack import Stack
from tests.services.ingest.admin.admin_support import admin_settings

TITLE = "Add fire-safety certificate"


def bell(driver: WebDriver) -> str:
    return text_of(driver, "#bell-count")


def items(driver: WebDriver) -> list[object]:
    return list(driver.find_elements(By.CSS_SELECTOR, "#inbox-list li.item"))


def test_inbox_page_receives_a_notification_live_and_marks_it_read(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    with (
        Stack(database_url, amqp_url, tmp_path, admin_settings(), full=True) as stack,
        chromium(tmp_path / "profile") as driver,
    ):
        page = f"{stack.ingest_url}/inbox/?ws={quote(stack.ws_url)}#token={user_token('u-17')}"
        driver.get(page)
        wait_for(driver, lambda d: text_of(d, "#status") == "live", "the live connection")
        assert bell(driver) == "0" and items(driver) == []
        js(driver, "window.__notReloaded = true;")

        event = sample_event()
        response = httpx.post(
            f"{stack.ingest_url}/v1/events", json=event, headers={"X-API-Key": API_KEY}
        )
        assert response.status_code in (200, 201, 202), response.text

        wait_for(driver, lambda d: len(items(d)) == 1, "the notification to arrive")
        wait_for(driver, lambda d: bell(d) == "1", "the unread counter")
        item = driver.find_element(By.CSS_SELECTOR, "#inbox-list li.item")
        assert TITLE in item.text and "unread" in (item.get_attribute("class") or "")
        assert js(driver, "return window.__notReloaded === true;")
        screenshot(driver, "inbox-live.png")

        click(driver, item.find_element(By.CSS_SELECTOR, ".mark-read"))
        wait_for(driver, lambda d: bell(d) == "0", "the counter after mark read")
        wait_for(
            driver,
            lambda d: "unread" not in (items(d)[0].get_attribute("class") or ""),  # type: ignore[attr-defined]
            "the item shown as read",
        )

        # the gateway goes away; an event is delivered meanwhile; the page reconnects and
        # resumes from the last id it had, so the missed notification still arrives
        second = sample_event()
        second["payload"]["title"] = "Missed while offline"
        stack.restart_gateway(emit_and_wait_sent(stack, database_url, second))
        wait_for(driver, lambda d: len(items(d)) == 2, "the missed notification after resume")
        wait_for(driver, lambda d: bell(d) == "1", "the counter after resume")
        assert "Missed while offline" in items(driver)[0].text  # type: ignore[attr-defined]
        assert js(driver, "return window.__notReloaded === true;")


async def emit_and_wait_sent(stack: Stack, database_url: str, event: dict[str, Any]) -> None:
    """Emit while no gateway runs and wait until the browser delivery is SENT: its live
    push went nowhere, so only the resume can bring it to the page."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{stack.ingest_url}/v1/events", json=event, headers={"X-API-Key": API_KEY}
        )
        assert response.status_code in (200, 201, 202), response.text
    engine = make_engine(database_url)

    async def sent() -> bool:
        async with make_sessionmaker(engine)() as session:
            found = await session.scalar(
                select(Delivery.status)
                .join(Notification, Notification.id == Delivery.notification_id)
                .join(Event, Event.id == Notification.event_id)
                .where(
                    Event.source_event_id == event["id"],
                    Notification.user_id == "u-17",
                    Delivery.channel == "browser",
                )
            )
            return found == "SENT"

    try:
        await eventually(sent, timeout_s=20.0)
    finally:
        await engine.dispose()
