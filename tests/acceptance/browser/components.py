"""Helpers for the UI component tests: reach into the components' (open) shadow roots, run
axe-core in the page, and record Content-Security-Policy violations from the first byte."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.acceptance.browser.browser import js

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe.min.js"  # axe-core 4.14.1 from the npm registry (MPL-2.0), vendored
AXE_PACKAGE = "axe-core@4.14.1"
AXE_TIMEOUT_S = 30
BLOCKING_IMPACTS = ("serious", "critical")

CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));
"""


def record_csp_violations(driver: WebDriver) -> None:
    """Install the recorder in every document before its own scripts run."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_RECORDER})


def csp_violations(driver: WebDriver) -> list[str]:
    return list(js(driver, "return window.__cspViolations || [];"))


def inside(driver: WebDriver, host: str, css: str) -> list[WebElement]:
    """Elements matching ``css`` in the shadow root of the element ``host`` selects."""
    script = (
        "const host = document.querySelector(arguments[0]);"
        "return host && host.shadowRoot ? [...host.shadowRoot.querySelectorAll(arguments[1])] : [];"
    )
    return list(js(driver, script, host, css))


def one(driver: WebDriver, host: str, css: str) -> WebElement:
    found = inside(driver, host, css)
    assert found, f"nothing matches {css!r} in <{host}>"
    return found[0]


def text_in(driver: WebDriver, host: str, css: str) -> str:
    found = inside(driver, host, css)
    return str(found[0].text) if found else ""


def axe_source() -> str:
    """The vendored axe.min.js; fetched with `npm pack` when someone removed it."""
    if not AXE.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", AXE_PACKAGE, "--silent"], cwd=tmp, check=True)
            archive = next(Path(tmp).glob("axe-core-*.tgz"))
            with tarfile.open(archive) as tar:
                member = tar.extractfile("package/axe.min.js")
                assert member is not None
                VENDOR.mkdir(exist_ok=True)
                AXE.write_bytes(member.read())
    return AXE.read_text(encoding="utf-8")


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core over the whole page, shadow roots included: the serious and critical ones."""
    driver.set_script_timeout(AXE_TIMEOUT_S)
    driver.execute_script(axe_source())
    found: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations.map("
        "  (v) => ({id: v.id, impact: v.impact, help: v.help,"
        "          nodes: v.nodes.map((n) => n.target)}))));"
    )
    return [v for v in found if v["impact"] in BLOCKING_IMPACTS]
