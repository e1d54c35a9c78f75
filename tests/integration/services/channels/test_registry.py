"""One registry of channels (libs/common/delivery/channels.py): built-ins, plugins from a settings
line or an entry point, and the sender building a provider for each channel that has one."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.memory import MemoryBus
from libs.common.db.models import Delivery, Recipient
from libs.common.delivery import channels
from services.sender.channels import build_providers
from services.sender.worker import Sender
from tests.integration.services.channels import pigeon_plugin
from tests.integration.services.sender.support import mediator, seed, sender_settings

PLUGIN = "tests.integration.services.channels.pigeon_plugin:CHANNEL"


@pytest.fixture(autouse=True)
def builtins_after() -> Iterator[None]:
    yield
    channels.configure()  # the built-ins again, for the tests that follow


def test_builtins_and_what_has_a_provider() -> None:
    known = channels.configure()
    assert known.names == ("email", "telegram", "browser", "sms")
    assert known.without_digest() == {"browser"}
    assert known.available(SimpleNamespace()) == {"browser"}
    configured = SimpleNamespace(outbox_dir="/tmp/x", sms_gateway_url="http://gw/send")
    assert known.available(configured) == {"browser", "email", "sms"}


def test_a_plugin_from_the_settings_line_and_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    known = channels.configure([PLUGIN])
    assert "pigeon" in known and channels.unknown(["pigeon", "owl"]) == ["owl"]
    assert "pigeon" not in known.available(SimpleNamespace())
    monkeypatch.setenv("HERALD_PIGEON_LOFT", "roof")  # its own setting, read from the environment
    assert "pigeon" in known.available(SimpleNamespace())
    spec = known.get("pigeon")
    assert spec is not None
    assert spec.address_of(SimpleNamespace(attributes={"loft": "roof-3"})) == "roof-3"
    assert spec.address_of(SimpleNamespace(attributes={})) is None


def test_an_entry_point_plugin_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    point = SimpleNamespace(value=PLUGIN)
    monkeypatch.setattr(channels, "entry_points", lambda group: [point] if group else [])
    assert "pigeon" in channels.configure()
    with pytest.raises(ValueError, match="registered twice"):
        channels.configure([PLUGIN])  # the entry point already brought it
    with pytest.raises(ValueError, match="lowercase"):
        channels.ChannelSpec("Bad Name", "m:f")
    with pytest.raises(TypeError, match="not ChannelSpec"):
        channels.load_spec("tests.integration.services.channels.pigeon_plugin:LOFT")


async def test_the_sender_delivers_on_a_plugin_and_fails_a_channel_without_provider(
    database_url: str, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_PIGEON_LOFT", "roof")
    settings = sender_settings(database_url, channel_plugins=[PLUGIN])
    providers = build_providers(settings, MemoryBus(), sessions)
    assert sorted(providers) == ["browser", "pigeon"]  # no SMTP, no bot, no SMS gateway
    pigeon, sms = await seed(sessions, ["u-1"], ("pigeon", "sms"))
    async with sessions() as s, s.begin():
        await s.execute(update(Recipient).values(attributes={"loft": "roof-3"}))
    sender = Sender(sessions, providers, mediator(), settings)
    assert await sender.run_once() == 2
    await sender.recorder.flush()
    async with sessions() as s:
        sent, failed = await s.get(Delivery, pigeon), await s.get(Delivery, sms)
    assert sent is not None and sent.status == "SENT"
    assert sent.provider_message_id == f"pigeon-{pigeon}"
    assert ("roof-3", "The deadline is now 5 December.") in pigeon_plugin.LOFT
    assert failed is not None and failed.status == "FAILED"
    assert failed.last_error is not None and "no provider for channel sms" in failed.last_error
