"""Admin-edited templates must never reach Python internals nor exhaust the worker (DESIGN §13)."""

from __future__ import annotations

import pytest

from libs.common.templating.templates import (
    TemplateRenderError,
    render,
    render_string,
    validate_template,
)

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

# Each of these took gigabytes of memory or minutes of CPU before
# libs/common/templating/template_limits.py
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

# Each ran for seconds to minutes, or built hundreds of megabytes in one step, before the render
# deadline and the size checks (libs/common/templating/template_budget.py, template_sizes.py); sizes
# are moderate (a few hundred MB before the fix) and still far past every cap.
_LONG = "('x' * 199999)"
_LOOPS = "{% for i in range(1000) %}{% for j in range(99) %}"
UNBOUNDED = {
    "pow chain (issue 14)": "{{ 9 ** 100 ** 100 ** 40 }}",
    "pow chain, never printed": "{{ (9 ** 100 ** 100 ** 100 ** 5) % 7 }}",
    "squaring in a loop": "{% set ns = namespace(x=10**100) %}{% for i in range(16) %}"
    "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x % 7 }}",
    "string multiplication in loops": _LOOPS
    + "{{ ('x' * 199999)|length }}{% endfor %}{% endfor %}",
    "work in every step": _LOOPS + "{% if ('x' * 9999).replace('x', 'yy') %}{% endif %}"
    "{% endfor %}{% endfor %}ok",
    "list repetition printed": "{{ [" + _LONG + "] * 2000 }}",
    "list repetition joined": "{{ ([" + _LONG + "] * 2000)|join|length }}",
    "list repetition as a string": "{{ ([" + _LONG + "] * 2000)|string|length }}",
    "list repetition as JSON": "{{ ([" + _LONG + "] * 2000)|tojson|length }}",
    "list repetition concatenated": "{{ (([" + _LONG + "] * 2000) ~ '')|length }}",
    "printf repeating an argument": "{{ (('%(a)s' * 2000) % {'a': " + _LONG + "})|length }}",
    "printf over many arguments": "{{ (('%s' * 2000) % ((" + _LONG + ",) * 2000))|length }}",
    "printf widths summed": "{{ (('%9999d' * 20000)|format(*((1,) * 20000)))|length }}",
    "format repeating an argument": "{{ ('{0}' * 2000).format(" + _LONG + ")|length }}",
    "format widths summed": "{{ ('{0:>9999}' * 20000).format(1)|length }}",
    "str.ljust": "{{ 'x'.ljust(99999999)|length }}",
    "str.center": "{{ 'x'.center(99999999)|length }}",
    "int.to_bytes": "{{ (10).to_bytes(99999999, 'big')|length }}",
    "str.join": "{{ " + _LONG + ".join(['a'] * 2000)|length }}",
    "Markup.join": "{{ (" + _LONG + "|safe).join(['a'] * 2000)|length }}",
    "str.replace": "{{ " + _LONG + ".replace('x', 'y' * 2000)|length }}",
    "str.expandtabs": "{{ ('\\t' * 199999).expandtabs(2000)|length }}",
    "str.translate": "{{ " + _LONG + ".translate({120: 'y' * 2000})|length }}",
    "output of a loop": "{% for i in range(20) %}{% for j in range(100) %}{{ 'x' * 199999 }}"
    "{% endfor %}{% endfor %}",
    "static text of a loop": _LOOPS + "x" * 2000 + "{% endfor %}{% endfor %}",
    "captured block": "{% set s %}{% for i in range(20) %}{% for j in range(100) %}"
    "{{ 'x' * 199999 }}{% endfor %}{% endfor %}{% endset %}{{ s|length }}",
    "sum of lists": "{{ ([[1]] * 50000)|sum(start=[])|length }}",
}
# Integers sharing one hash (multiples of 2**61 - 1) from the event itself: a producer's 1 MiB
# payload holds ~45,000; hashing 50,000 of them took 50 s in one uninterruptible step.
COLLIDING = {"payload": {"ids": [k * (2**61 - 1) for k in range(1, 50_001)]}}
UNBOUNDED_ON_DATA = {
    "hash collisions in |unique": "{{ payload.ids|unique|list|length }}",
    "hash collisions in dict()": "{{ dict.fromkeys(payload.ids)|length }}",
}

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
