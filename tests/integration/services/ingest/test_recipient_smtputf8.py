"""PUT /v1/recipients refuses an address only SMTPUTF8 can carry (``пётр@пример.рф``) unless
HERALD_SMTP_SMTPUTF8 says the relay offers it: the producer hears it at once, rather than the
delivery failing at send time. An internationalised domain alone is fine (IDNA)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Recipient
from services.ingest.app import create_app
from tests.apps import API_KEY, ingest_settings, running

KEY = {"X-API-Key": API_KEY}
IDN = "пётр@пример.рф"


async def test_an_address_needing_smtputf8_is_refused_unless_the_relay_offers_it(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = ingest_settings(database_url, "memory://recipients-utf8")
    async with running(create_app(settings, consume=False)) as http:
        refused = await http.put("/v1/recipients/u-1", json={"email": IDN}, headers=KEY)
        domain_only = await http.put(
            "/v1/recipients/u-2", json={"email": "petr@пример.рф"}, headers=KEY
        )
    assert refused.status_code == 422, refused.text
    message = str(refused.json())
    assert "SMTPUTF8" in message and "HERALD_SMTP_SMTPUTF8" in message and IDN in message
    assert domain_only.status_code == 200, domain_only.text
    async with sessions() as session:
        assert await session.get(Recipient, ("default", "u-1")) is None
    # accepted when the operator says the relay offers SMTPUTF8
    settings = ingest_settings(database_url, "memory://recipients-utf8", smtp_smtputf8=True)
    async with running(create_app(settings, consume=False)) as http:
        resp = await http.put("/v1/recipients/u-1", json={"email": IDN}, headers=KEY)
    assert resp.status_code == 200, resp.text
    assert resp.json()["email"] == IDN
