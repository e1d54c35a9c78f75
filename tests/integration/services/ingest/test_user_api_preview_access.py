"""The subscription preview leaks nothing (DESIGN §13): it scans only events about objects the
caller may read (one mediator batch), and it is rate-limited per user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event
from services.acl_mediator.reference_data import StaticDirectory
from tests.integration.services.ingest.user_api_data import auth, event_row, user_api
from tests.integration.services.sender.support import MEDIATOR_KEY
from tests.mediator_stack import real_mediator

BOB = auth("bob")
BITS = 30  # the hidden amount is a 30-bit number: 30 `between` questions pin it down
SECRET_AMOUNT, OPEN_AMOUNT = 734_912_113, 52_000_017


async def _two_objects(sessions: async_sessionmaker[AsyncSession]) -> tuple[Event, Event]:
    """An object only alice may read, and one bob may read, each alone in its project."""
    async with transaction(sessions) as session:
        secret = event_row(attributes={"amount": SECRET_AMOUNT}, project_id="P-secret")
        mine = event_row(attributes={"amount": OPEN_AMOUNT}, project_id="P-open")
        session.add_all([secret, mine])
    return secret, mine


def _directory(secret: Event, mine: Event) -> StaticDirectory:
    objects = [
        {"module": "tenders", "object_type": "tender", "object_id": e.entity_id, "owners": [who]}
        for e, who in ((secret, "alice"), (mine, "bob"))
    ]
    return StaticDirectory({"tenants": {"default": {"objects": objects}}})


async def _recover(http: httpx.AsyncClient, project: str) -> tuple[int, set[Any]]:
    """The attack: bisect the amount with `between` filters, reading only ``matched``.
    Returns the value found and every distinct answer the preview gave."""
    low, high = 0, 2**BITS - 1
    answers: set[Any] = set()
    for _ in range(BITS):
        middle = (low + high) // 2
        body = {
            "source": "tenders",
            "entity_type": "tender",
            "project_id": project,
            "filter": [{"field": "amount", "op": "between", "value": [low, middle]}],
        }
        resp = await http.post("/v1/subscriptions/preview", json=body, headers=BOB)
        assert resp.status_code == 200, resp.text
        result = resp.json()
        answers.add((result["scanned"], result["matched"], len(result["events"])))
        low, high = (low, middle) if result["matched"] else (middle + 1, high)
    return low, answers


async def test_thirty_between_queries_recover_nothing_the_user_may_not_read(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    secret, mine = await _two_objects(sessions)
    async with (
        real_mediator(tmp_path, _directory(secret, mine)) as mediator_url,
        user_api(
            database_url,
            mediator_url=mediator_url,
            mediator_api_key=MEDIATOR_KEY,
            preview_burst=2 * BITS,  # the limit is not what closes the oracle
        ) as http,
    ):
        # the same bisection works on bob's own object: the search itself is sound
        found, _ = await _recover(http, "P-open")
        assert found == OPEN_AMOUNT
        guessed, answers = await _recover(http, "P-secret")
    assert guessed != SECRET_AMOUNT
    assert answers == {(0, 0, 0)}, "every answer about the hidden object is the same: nothing"


async def test_the_preview_lists_and_counts_only_readable_events(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    secret, mine = await _two_objects(sessions)
    body = {"source": "tenders", "entity_type": "tender", "filter": []}
    async with (
        real_mediator(tmp_path, _directory(secret, mine)) as mediator_url,
        user_api(database_url, mediator_url=mediator_url, mediator_api_key=MEDIATOR_KEY) as http,
    ):
        resp = await http.post("/v1/subscriptions/preview", json=body, headers=BOB)
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert (result["scanned"], result["matched"]) == (1, 1)
    assert [e["event_id"] for e in result["events"]] == [mine.id]
    assert secret.id not in resp.text and str(secret.entity_id) not in resp.text


async def test_the_preview_is_rate_limited_per_user_with_retry_after(database_url: str) -> None:
    body = {"source": "tenders", "entity_type": "tender", "filter": []}
    async with user_api(database_url, preview_rate_per_s=0.5, preview_burst=3) as http:
        bobs = [
            await http.post("/v1/subscriptions/preview", json=body, headers=BOB) for _ in range(5)
        ]
        alice = await http.post("/v1/subscriptions/preview", json=body, headers=auth("alice"))
    assert [r.status_code for r in bobs] == [200, 200, 200, 429, 429]
    refused = bobs[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert alice.status_code == 200, "one user's limit is not another's"
