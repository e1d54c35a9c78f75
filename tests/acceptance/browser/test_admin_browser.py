"""The admin in a real headless Chromium: log in, edit a template with the live preview,
save it; a broken template is refused and never reaches the database."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.models import Template
from tests.acceptance.browser.browser import chromium, click, screenshot, text_of, wait_for
from tests.acceptance.browser.stack import Stack
from tests.integration.services.ingest.admin.admin_support import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    admin_settings,
)

NEW_BODY = "Hello {{ recipient.user_id }}: {{ payload.title }} ({{ entity.id }})"
BROKEN_BODY = "{% if payload.title %}never closed"


async def load_template(database_url: str, key: tuple[str, str, str]) -> Template:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            row = await session.scalar(
                select(Template).where(
                    Template.event_type == key[0],
                    Template.channel == key[1],
                    Template.locale == key[2],
                )
            )
            assert row is not None
            return row
    finally:
        await engine.dispose()


def log_in(driver: WebDriver, base: str) -> None:
    driver.get(f"{base}/admin/")
    wait_for(driver, lambda d: "/admin/login" in d.current_url, "the login page")
    driver.find_element(By.NAME, "username").send_keys(ADMIN_USER)
    driver.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url.rstrip("/").endswith("/admin"), "the admin index")


def type_body(driver: WebDriver, text: str) -> None:
    body = driver.find_element(By.NAME, "body")
    body.clear()
    body.send_keys(text)


def test_admin_edits_a_template_with_live_preview_and_refuses_a_broken_one(
    database_url: str, tmp_path: Path
) -> None:
    key = ("*", "email", "ru")
    with (
        Stack(database_url, "memory://admin-browser", tmp_path, admin_settings()) as stack,
        chromium(tmp_path / "profile") as driver,
    ):
        before = stack.run(load_template(database_url, key))
        log_in(driver, stack.ingest_url)

        edit_url = f"{stack.ingest_url}/admin/template/edit/{before.id}"
        driver.get(edit_url)
        type_body(driver, NEW_BODY)
        expected = "Hello u-17: Add fire-safety certificate (T-1001)"
        wait_for(driver, lambda d: expected in text_of(d, "#preview-body"), "the live preview")
        screenshot(driver, "admin-template-preview.png")
        click(driver, driver.find_element(By.CSS_SELECTOR, "input[name=save][value=Save]"))
        wait_for(driver, lambda d: d.current_url.endswith("/admin/template/list"), "the list")
        saved = stack.run(load_template(database_url, key))
        assert (saved.body, saved.version) == (NEW_BODY, before.version + 1)

        driver.get(edit_url)
        type_body(driver, BROKEN_BODY)
        wait_for(driver, lambda d: "syntax" in text_of(d, "#preview-error"), "the preview error")
        click(driver, driver.find_element(By.CSS_SELECTOR, "input[name=save][value=Save]"))
        alert = wait_for(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".alert-danger"), "the refusal"
        )
        assert "Not saved" in alert[0].text and "syntax" in alert[0].text
        screenshot(driver, "admin-template-refused.png")
        after = stack.run(load_template(database_url, key))
        assert (after.body, after.version) == (NEW_BODY, saved.version)
