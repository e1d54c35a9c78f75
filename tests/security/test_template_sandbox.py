"""Admin-edited templates must never reach Python internals nor exhaust the worker (DESIGN §13)."""

from __future__ import annotations

import pytest

from libs.common.templates import TemplateRenderError, render, render_string, validate_template

CTX = {"payload": {"title": "T"}, "event": {"type": "x"}, "entity": {"id": "T-1"}}

ESCAPES = [
    "{{ payload.__class__ }}",
    "{{ payload.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ payload|attr('__class__') }}",
    "{{ (payload|attr('__class__')|attr('__mro__'))[1] }}",
    "{{ '{0.__class__}'.format(payload) }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(payload) }}",
    "{{ payload.update({'x': 1}) }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__self__ }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**8 }}",
    "{{ 10**1000000 }}",
    "{{ [1] * 100000000 }}",
    "{% set x = [] %}{{ x.append(1) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_fails_safely(source: str) -> None:
    """Either refused with a TemplateRenderError or rendered harmlessly — never internals."""
    try:
        out = render_string(source, CTX)
    except TemplateRenderError as exc:
        assert str(exc)
        return
    assert "class" not in out and "globals" not in out and "uid=" not in out
    assert len(out) < 1_000_000


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 10**8 }}", "{{ 10**1000000 }}", "{{ range(10**9)|list }}"]
)
def test_resource_exhaustion_is_refused(source: str) -> None:
    with pytest.raises(TemplateRenderError, match="sandbox"):
        render_string(source, CTX)


def test_html_is_escaped_in_html_bodies() -> None:
    out = render("s", "b", "<p>{{ payload.title }}</p>", {"payload": {"title": "<script>"}})
    assert out.body_html == "<p>&lt;script&gt;</p>"


def test_syntax_error_is_reported_with_line() -> None:
    with pytest.raises(TemplateRenderError, match="line 2"):
        validate_template("ok\n{% if %}")


def test_undefined_variable_is_an_error_not_silence() -> None:
    with pytest.raises(TemplateRenderError, match="undefined"):
        render_string("{{ nothing.here }}", CTX)
