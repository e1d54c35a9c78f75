"""The modules file is validated when the mediator starts, with messages an operator can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from herald.settings_errors import explain
from services.acl_mediator.dev import write_dev_modules_file
from services.acl_mediator.modules import ModulesFileError, parse_modules
from services.acl_mediator.settings import MediatorSettings
from tests.unit.services.acl_mediator.support import CALLER

KEYS = {"mediator-test-key-0123456789": CALLER}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("modules: [1, 2]", "modules: Input should be a valid dictionary"),
        ("modules:\n  tenders: {}", "modules.tenders: Value error, give base_url, or tenants"),
        ("modules:\n  tenders: {base_url: ftp://x}", "must be an http:// or https:// URL"),
        ("modules:\n  tenders: {base_url: 'http://u:p@x'}", "must not carry credentials"),
        ("modules:\n  tenders: {base_url: 'http://x/?to=y'}", "must not carry credentials"),
        ("modules:\n  tenders: {base_url: 'http://x', timeout_s: 0}", "greater than 0"),
        ("modules:\n  tenders: {base_url: 'http://x', retries: 3}", "Extra inputs"),
        ("modules:\n  '../x': {base_url: 'http://x'}", "modules.../x.[key]: String should match"),
        ("modules: {", "not valid YAML"),
        (
            "modules:\n  t: {base_url: 'http://x', auth_header: {name: Authorization}}",
            "modules.t.auth_header: give exactly one of value, value_env",
        ),
        (
            "modules:\n  t: {base_url: 'http://x', auth_header: {name: A, value_env: NOPE_1}}",
            "environment variable NOPE_1 is not set",
        ),
    ],
)
def test_invalid_files_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ModulesFileError, match=r"acl\.yaml") as caught:
        parse_modules(text, "acl.yaml")
    assert problem in str(caught.value)


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENDERS_ACL_TOKEN", "Bearer abc")
    parsed = parse_modules(
        "modules:\n  tenders:\n    base_url: http://tenders:8080/\n"
        "    auth_header: {name: Authorization, value_env: TENDERS_ACL_TOKEN}\n"
    )
    module = parsed.modules["tenders"]
    assert module.base_url == "http://tenders:8080"
    assert module.headers() == {"Authorization": "Bearer abc"}


def test_settings_refuse_to_start_on_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "acl.yaml"
    broken.write_text("modules:\n  tenders: {base_url: nowhere}\n")
    with pytest.raises(ValidationError) as caught:
        MediatorSettings(api_keys=KEYS, acl_modules_file=broken)
    message = explain("acl_mediator", caught.value)
    assert "HERALD_ACL_MODULES_FILE" in message
    assert "modules.tenders.base_url: Value error, must be an http://" in message
    with pytest.raises(ValidationError, match="cannot read"):
        MediatorSettings(api_keys=KEYS, acl_modules_file=tmp_path / "missing.yaml")


def test_example_and_dev_files_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_ACL_REFERENCE_AUTH", "Bearer example")
    example = Path(__file__).resolve().parents[4] / "deploy" / "config" / "acl-modules.yaml"
    assert example.exists()
    assert parse_modules(example.read_text(), str(example)).modules
    dev = MediatorSettings(api_keys=KEYS, acl_modules_file=write_dev_modules_file(tmp_path))
    assert set(dev.modules().modules) >= {"tenders", "approvals"}
