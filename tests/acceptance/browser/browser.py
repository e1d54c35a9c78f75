"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium, fresh profile."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ENSURE = Path(__file__).resolve().parents[3] / "scripts" / "ensure-chromium.sh"
WAIT_S = 20.0  # an upper bound for "eventually", never a timing assertion
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
)

T = TypeVar("T")


def ensure_chromium() -> None:
    """Install the Debian packages when missing (idempotent); fail loudly if that fails."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    subprocess.run(["bash", str(ENSURE)], check=True)


@contextmanager
def chromium(profile_dir: Path) -> Iterator[WebDriver]:
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, check: Callable[[WebDriver], T], what: str) -> T:
    try:
        # The components re-render their lists, so an element found a moment ago may be
        # gone by the time its text is read: that is "not yet", not a failure.
        result: T = WebDriverWait(
            driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(check)
    except TimeoutException:
        page = driver.execute_script("return document.body ? document.body.innerText : ''")
        raise AssertionError(
            f"gave up waiting for {what}; the page shows:\n{page[:2000]}"
        ) from None
    return result


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    return path


def text_of(driver: WebDriver, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def js(driver: WebDriver, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def click(driver: WebDriver, element: Any) -> None:
    """A DOM click (what the user's click triggers), immune to sticky panels and toasts
    lying over the element in a small headless window."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element
    )
