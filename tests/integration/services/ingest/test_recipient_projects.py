"""The directory's roles and companies per project through PUT/GET /v1/recipients."""

from __future__ import annotations

from services.ingest.app import create_app as ingest_app
from tests.apps import API_KEY, ingest_settings, running

URL = "/v1/recipients/u-40"
KEY = {"X-API-Key": API_KEY}
PROJECTS = {
    "P-42": {"roles": ["designer", "designer"], "company_id": "c-5"},
    "P-43": {"roles": ["installer"]},
}


async def test_projects_are_replaced_when_sent_and_kept_when_left_out(database_url: str) -> None:
    settings = ingest_settings(database_url, "memory://recipient-projects")
    async with running(ingest_app(settings, consume=False)) as http:
        resp = await http.put(URL, json={"roles": ["manager"], "projects": PROJECTS}, headers=KEY)
        assert resp.status_code == 200, resp.text
        assert resp.json()["projects"] == {
            "P-42": {"roles": ["designer"], "company_id": "c-5"},
            "P-43": {"roles": ["installer"], "company_id": None},
        }
        kept = await http.put(URL, json={"email": "a@example.com"}, headers=KEY)
        assert set(kept.json()["projects"]) == {"P-42", "P-43"}
        moved = {"P-44": {"roles": ["designer"]}}
        replaced = await http.put(URL, json={"projects": moved}, headers=KEY)
        assert replaced.json()["projects"] == {"P-44": {"roles": ["designer"], "company_id": None}}
        cleared = await http.put(URL, json={"projects": {}}, headers=KEY)
        assert cleared.json()["projects"] == {}
        for bad in (
            {"projects": {"P-1": {"roles": [""]}}},
            {"projects": {"P-1": {"title": "x"}}},
            {"projects": {"": {"roles": ["a"]}}},
            {"projects": ["P-1"]},
        ):
            assert (await http.put(URL, json=bad, headers=KEY)).status_code == 422, bad
