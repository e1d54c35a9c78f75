"""What the sender takes from a tenant (DESIGN §15): its digest defaults for a user who never
picked a schedule, its own digest template and e-mail layout, and its From name — each with
and without an override."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import (
    Delivery,
    DigestSchedule,
    EmailLayout,
    Event,
    Notification,
    Recipient,
    Template,
    Tenant,
)
from services.sender.providers.outbox import OutboxProvider
from services.sender.worker import Sender
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting,
    digests,
    scheduler,
    utc,
)
from tests.integration.services.sender.support import mediator, seed, sender_settings

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)
RUN = utc(2026, 11, 27, 6)


async def _acme_settings(sessions: Sessions, **values: object) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(Tenant).where(Tenant.key == "acme").values(settings=values))


async def test_a_new_digest_user_gets_the_tenants_digest_defaults(sessions: Sessions) -> None:
    await _acme_settings(sessions, digest={"days": [0], "time": "07:30", "timezone": "Asia/Tokyo"})
    await add_waiting(sessions, "u-acme", RUN, tenant="acme")  # no schedule yet
    await add_waiting(sessions, "u-default", RUN)
    assert (await scheduler(sessions).tick(RUN)).provisioned == 2
    async with sessions() as session:
        rows = {s.tenant: s for s in await session.scalars(select(DigestSchedule))}
    acme, default = rows["acme"], rows["default"]
    assert (acme.days_of_week, acme.time_of_day, acme.timezone) == ([0], "07:30", "Asia/Tokyo")
    assert (default.days_of_week, default.time_of_day) == (list(range(7)), "09:00")


async def test_the_tenants_digest_template_and_layout(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        session.add_all(
            [
                Template(
                    tenant="acme", event_type="herald.digest", channel="email", locale="ru",
                    subject="ACME: {{ digest.item_count }}", body="ACME digest",
                ),
                EmailLayout(tenant="acme", header_html="<h1>ACME</h1>", footer_text="ACME Ltd"),
            ]
        )  # fmt: skip
    for tenant, user in (("acme", "u-acme"), ("default", "u-default")):
        await add_schedule(sessions, user, window_start=START, tenant=tenant)
        await add_waiting(sessions, user, START + timedelta(hours=1), tenant=tenant)
    await scheduler(sessions).tick(RUN)
    built = {b.digest.tenant: b.delivery for b in await digests(sessions)}
    assert built["acme"].subject == "ACME: 1"
    assert built["acme"].body_html is not None and "<h1>ACME</h1>" in built["acme"].body_html
    assert built["acme"].body.endswith("ACME Ltd\n")
    assert built["default"].subject.startswith("Дайджест Herald")  # the global template
    assert "ACME" not in (built["default"].body_html or "") + built["default"].body


async def test_e_mails_carry_the_tenants_sender_name(
    sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    ids = await seed(sessions, ["u-acme", "u-default"])
    async with transaction(sessions) as session:
        for model in (Recipient, Notification, Delivery):
            await session.execute(
                update(model).where(model.user_id == "u-acme").values(tenant="acme")
            )
        await session.execute(update(Event).values(tenant="acme"))  # only u-acme's reads it
        session.add(EmailLayout(tenant="acme", sender_name="ACME Уведомления"))
    outbox = OutboxProvider(tmp_path, "Herald <n@herald.test>")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(), sender_settings(database_url))
    await sender.run_once()
    await sender.recorder.flush()
    sent = {i: _from(tmp_path / f"delivery-{i}.eml") for i in ids}
    assert sent[ids[0]] == ("ACME Уведомления", "n@herald.test")  # RFC 2047 on the wire
    assert sent[ids[1]] == ("Herald", "n@herald.test")  # no layout: as configured


def _from(path: Path) -> tuple[str, str]:
    [address] = message_from_bytes(path.read_bytes(), policy=policy.default)["From"].addresses
    return address.display_name, address.addr_spec
