"""The feeds file: validated at start with the culprit named; projection by whitelist only."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.websocket.feeds import FeedsConfigError, load_feeds, project

EVENT = {
    "id": "e-1",
    "source": "tenders",
    "tenant": "default",
    "project_id": "P-42",
    "entity": {"type": "tender", "id": "T-1", "attributes": {"deadline": "2026-12-05"}},
    "payload": {"title": "t", "contact_phone": "+7"},
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_is_valid() -> None:
    feeds = load_feeds(Path(__file__).parents[4] / "deploy" / "config" / "websocket.yaml")
    assert {"tender", "project_remarks", "announcements"} <= set(feeds.feeds)
    assert [f.name for f in feeds.matching("tenders.tender.requirement_added")] == ["tender"]
    assert feeds.matching("tenders.lot.created") == []


@pytest.mark.parametrize(
    ("body", "culprit"),
    [
        ("feeds: {t: {sources: [a.b], params: {}, fields: [id]}}", "feeds.t.authorize"),
        ("feeds: {t: {sources: [a.b], params: {}, fields: [id], authorize: yes}}", "authorize"),
        ("feeds: {t: {sources: ['a b'], params: {}, fields: [id], authorize: none}}", "sources"),
        ("feeds: {t: {sources: [a], params: {}, fields: ['x..y'], authorize: none}}", "fields"),
        ("feeds: {t: {sources: [a], params: {}, fields: [], authorize: none}}", "fields"),
        ("feeds: {t: {sources: [a], params: {X: id}, fields: [id], authorize: none}}", "params"),
        ("feeds: {t: {sources: [a], params: {}, fields: [id], authorize: none, x: 1}}", "t.x"),
        ("feeds: {t: {sources: [a], params: {}, fields: [id], authorize: {obj: id}}}", "obj"),
        ("feeds: [1, 2]", "feeds"),
    ],
)
def test_invalid_files_name_the_culprit(tmp_path: Path, body: str, culprit: str) -> None:
    with pytest.raises(FeedsConfigError) as caught:
        load_feeds(_write(tmp_path, body))
    assert culprit in str(caught.value)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FeedsConfigError, match="cannot read"):
        load_feeds(tmp_path / "missing.yaml")
    with pytest.raises(FeedsConfigError, match="cannot read"):
        load_feeds(_write(tmp_path, "feeds: [unclosed"))


def test_projection_copies_only_whitelisted_paths() -> None:
    fields = ["id", "entity.id", "entity.attributes.deadline", "payload.title", "payload.none"]
    assert project(EVENT, fields) == {
        "id": "e-1",
        "entity": {"id": "T-1", "attributes": {"deadline": "2026-12-05"}},
        "payload": {"title": "t"},
    }
    assert project(EVENT, ["payload"]) == {"payload": EVENT["payload"]}  # explicit: whole object


def test_params_and_permission_object_come_from_the_event(tmp_path: Path) -> None:
    text = """
feeds:
  tender:
    sources: ["tenders.#"]
    params: {tender_id: entity.id, project: project_id}
    fields: [id]
    authorize: {access: write}
"""
    feed = load_feeds(_write(tmp_path, text)).feeds["tender"]
    assert feed.params_of(EVENT) == ("T-1", "P-42")
    assert feed.params_of({"entity": {"id": {"nested": 1}}}) is None
    assert feed.check_params({"tender_id": "T-1", "project": "P-42"}) == ("T-1", "P-42")
    with pytest.raises(ValueError, match="exactly"):
        feed.check_params({"tender_id": "T-1"})
    with pytest.raises(ValueError, match="string"):
        feed.check_params({"tender_id": 5, "project": "P"})
    item = feed.permission_item(EVENT, "u-1")
    assert item is not None
    assert (item.module, item.object_type, item.object_id, item.project_id) == (
        "tenders",
        "tender",
        "T-1",
        "P-42",
    )
    assert feed.permission_item({"source": "tenders"}, "u-1") is None  # no object: denied
