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
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ payload|map(attribute='__class__')|list }}",
    "{{ payload|selectattr('__class__')|list }}",
    "{{ '{x.__class__}'.format_map({'x': payload}) }}",
    "{{ '{0.__class__.__base__.__subclasses__}'.format_map({'0': payload}) }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ payload.items.__self__ }}",
    "{{ (payload.get).__self__.__class__ }}",
    "{% set ns = namespace() %}{% set ns.__class__ = 1 %}",
    "{{ '%s'|format(payload.__class__) }}",
    "{{ payload.pop('title') }}",
    "{{ payload.setdefault('x', 1) }}",
]

# Each of these took gigabytes of memory or minutes of CPU before libs/common/template_limits.py
EXHAUSTION = [
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{:{}}'.format(1, 999999999) }}",
    "{{ '%999999999d'|format(1) }}",
    "{{ '%*d'|format(999999999, 1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'a\nb'|indent(999999999) }}",
    "{{ ('a\n' * 90000)|indent(5000) }}",
    "{{ payload|tojson(indent=99999999) }}",
    "{{ range(1000)|join('x' * 100000) }}",
    "{{ ('x' * 100000)|replace('x', 'yyyyy') }}",
    "{{ ('x' * 100000)|wordwrap(1, wrapstring='y' * 1000) }}",
    "{{ range(10)|batch(999999999)|list }}",
    "{{ lipsum(100000) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000)|list %}{% endfor %}{% endfor %}",
]

# What real templates do keeps working under the limits
ORDINARY = {
    "{{ '%.2f'|format(1500000) }}": "1500000.00",
    "{{ '{:>6}'.format(7) }}": "     7",
    "{{ payload.title|center(5) }}": "  T  ",
    "{{ ['a', 'b']|join(', ') }}": "a, b",
    "{{ 'a b'|replace(' ', '-') }}": "a-b",
    "{% for i in range(300) %}{% for j in range(10) %}{% endfor %}{% endfor %}ok": "ok",
    "{% macro item(x) %}[{{ x }}]{% endmacro %}{{ item(1) }}{{ item(2) }}": "[1][2]",
    "{{ payload.missing|default(99999) }}": "99999",
}


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


@pytest.mark.parametrize("source", EXHAUSTION)
def test_memory_and_cpu_exhaustion_is_refused(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        render_string(source, CTX)


@pytest.mark.parametrize("source", sorted(ORDINARY))
def test_ordinary_templates_still_render(source: str) -> None:
    assert render_string(source, CTX) == ORDINARY[source]


def test_html_is_escaped_in_html_bodies() -> None:
    out = render("s", "b", "<p>{{ payload.title }}</p>", {"payload": {"title": "<script>"}})
    assert out.body_html == "<p>&lt;script&gt;</p>"


def test_syntax_error_is_reported_with_line() -> None:
    with pytest.raises(TemplateRenderError, match="line 2"):
        validate_template("ok\n{% if %}")


def test_undefined_variable_is_an_error_not_silence() -> None:
    with pytest.raises(TemplateRenderError, match="undefined"):
        render_string("{{ nothing.here }}", CTX)
