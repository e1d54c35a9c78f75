"""Templates through the admin: previewed against a sample event in the sandbox, validated
before every save — broken, unsafe or unrenderable templates never reach the database."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Template
from tests.integration.services.ingest.admin.admin_support import (
    SAME_ORIGIN,
    admin_client,
    seed_story,
)

MEMORY = "memory://admin-templates"


async def _email_ru(sessions: async_sessionmaker[AsyncSession]) -> Template:
    async with sessions() as s:
        row = await s.scalar(
            select(Template).where(
                Template.event_type == "*", Template.channel == "email", Template.locale == "ru"
            )
        )
    assert row is not None
    return row


def _form(row: Template, **changes: str) -> dict[str, str]:
    values = {
        "event_type": row.event_type,
        "channel": row.channel,
        "locale": row.locale,
        "subject": row.subject,
        "body": row.body,
        "body_html": row.body_html or "",
        "save": "Save",
    }
    return {**values, **changes}


async def _save(client: httpx.AsyncClient, row: Template, **changes: str) -> httpx.Response:
    return await client.post(
        f"/admin/template/edit/{row.id}", data=_form(row, **changes), headers=SAME_ORIGIN
    )


async def test_preview_renders_against_the_latest_event_of_the_type(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_story(sessions)
    async with admin_client(database_url, MEMORY) as client:
        response = await client.post(
            "/admin/template/preview",
            data={
                "event_type": "*",
                "locale": "en",
                "subject": "{{ payload.title }}",
                "body": "{{ recipient.user_id }} / {{ entity.id }} / {{ actor.id }}",
                "body_html": "<b>{{ payload.title }}</b> <i>{{ '<script>' }}</i>",
            },
            headers=SAME_ORIGIN,
        )
    result = response.json()
    assert result["ok"] is True and result["sample"].startswith("the latest event e-")
    assert result["subject"] == "Add fire-safety certificate"
    assert result["body"] == "u-17 / T-1001 / u-7"
    assert "&lt;script&gt;" in result["body_html"]  # HTML bodies are autoescaped


async def test_preview_reports_syntax_sandbox_and_missing_values(database_url: str) -> None:
    cases = {
        "{% for x in %}": "body: syntax error (line 1)",
        "{{ ''.__class__.__mro__ }}": "body: sandbox",
        "{{ payload.no_such_field }}": "use `| default",
        "{% for i in range(100000) %}{% endfor %}": "range() larger than",
    }
    async with admin_client(database_url, MEMORY) as client:
        for body, expected in cases.items():
            response = await client.post(
                "/admin/template/preview",
                data={"event_type": "*", "locale": "ru", "subject": "", "body": body},
                headers=SAME_ORIGIN,
            )
            result = response.json()
            assert result["ok"] is False and expected in result["error"], (body, result)


async def test_a_valid_edit_is_saved_with_a_new_version(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await _email_ru(sessions)
    async with admin_client(database_url, MEMORY) as client:
        response = await _save(client, row, body="Hi {{ recipient.user_id }}", body_html="")
    assert response.status_code == 302
    saved = await _email_ru(sessions)
    assert (saved.body, saved.body_html, saved.version) == (
        "Hi {{ recipient.user_id }}",
        None,
        row.version + 1,
    )


async def test_broken_templates_are_never_saved(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await _email_ru(sessions)
    broken = {
        "body": ("{% if x %}", "syntax error"),
        "subject": ("{{ payload.title ", "subject: syntax error"),
        "body_html": ("{{ self.__init__.__globals__ }}", "body_html: sandbox"),
    }
    async with admin_client(database_url, MEMORY) as client:
        for field, (source, expected) in broken.items():
            response = await _save(client, row, **{field: source})
            assert response.status_code == 400 and "Not saved" in response.text, field
            assert expected in response.text, (field, response.text[-500:])
        unknown = await _save(client, row, event_type="no.such.type")
        assert unknown.status_code == 400 and "no event type" in unknown.text
        empty = await _save(client, row, body="   ")
        assert empty.status_code == 400 and "the body is empty" in empty.text
        created = await client.post(
            "/admin/template/create",
            data=_form(row, event_type="*", locale="de", body="{{ nope.nope }}"),
            headers=SAME_ORIGIN,
        )
        assert created.status_code == 400 and "Not saved" in created.text
    after = await _email_ru(sessions)
    assert (after.body, after.subject, after.version) == (row.body, row.subject, row.version)
    async with sessions() as s:
        assert await s.scalar(select(Template).where(Template.locale == "de")) is None


async def test_a_new_template_for_a_new_locale_is_created(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await _email_ru(sessions)
    async with admin_client(database_url, MEMORY) as client:
        response = await client.post(
            "/admin/template/create",
            data=_form(row, locale="de", subject="[{{ event.source }}]", body="Hallo!"),
            headers=SAME_ORIGIN,
        )
    assert response.status_code == 302
    async with transaction(sessions) as s:
        made = await s.scalar(select(Template).where(Template.locale == "de"))
    assert made is not None and (made.body, made.version) == ("Hallo!", 1)
