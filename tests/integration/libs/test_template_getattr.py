"""The sandbox's shortcut for ``dict.key``: the same answers as jinja's own lookup — the item,
undefined when missing, dict methods still methods, mutating ones still refused."""

from __future__ import annotations

import pytest

from libs.common.templating.templates import TemplateRenderError, render_string

PAYLOAD = {"payload": {"title": "Fire", "items": ["a", "b"], "nested": {"n": 1}}}


def test_keys_read_as_attributes_and_as_items_alike() -> None:
    text = "{{ payload.title }}|{{ payload['title'] }}|{{ payload.nested.n }}"
    assert render_string(text, PAYLOAD) == "Fire|Fire|1"


def test_a_missing_key_is_undefined_as_before() -> None:
    with pytest.raises(TemplateRenderError, match="UndefinedError"):
        render_string("{{ payload.missing }}", PAYLOAD)
    assert render_string("{{ payload.missing | default('-') }}", PAYLOAD) == "-"


def test_dict_methods_keep_their_meaning_and_mutation_stays_refused() -> None:
    # a key named like a dict method: jinja reads the method, as it always did
    assert render_string("{{ payload['items'] | join(',') }}", PAYLOAD) == "a,b"
    assert render_string("{{ payload.keys() | list | length }}", PAYLOAD) == "3"
    with pytest.raises(TemplateRenderError, match=r"sandbox|unsafe|SecurityError"):
        render_string("{{ payload.pop('title') }}", PAYLOAD)
    with pytest.raises(TemplateRenderError, match=r"sandbox|unsafe|SecurityError"):
        render_string("{{ payload.__class__ }}", PAYLOAD)
