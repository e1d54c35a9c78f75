"""Template rendering in Jinja2's immutable sandbox (DESIGN §4, §13).

Admin-edited templates must never reach Python internals nor hang a worker: the sandbox blocks
attribute tricks, ``range`` is capped so ``range(10**9)`` fails fast instead of eating RAM,
every operation that could grow is sized before it runs (template_limits.py, template_sizes.py)
and every render runs against a deadline (template_budget.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, update_wrapper
from typing import Any

from jinja2 import StrictUndefined, TemplateError, select_autoescape
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from libs.common.runtime.errors import PermanentError
from libs.common.templating.template_budget import (
    RenderDeadlineExceeded,
    check_deadline,
    close_budget,
    open_budget,
    produce,
    render_budget,
    step,
)
from libs.common.templating.template_limits import (
    TICK,
    LimitedCodeGenerator,
    check_format,
    check_printf,
    checked_concat,
    instrument,
    limited_filter,
)
from libs.common.templating.template_sizes import (
    MAX_OUTPUT_CHARS,
    check_arithmetic,
    check_text,
    checked_call_args,
    checked_size,
)

MAX_RANGE = 1_000  # a digest lists at most a few hundred items
MAX_EXPONENT = 100
__all__ = [
    "MAX_OUTPUT_CHARS",
    "Rendered",
    "TemplateRenderError",
    "render",
    "render_budget",
    "render_string",
]


class TemplateRenderError(PermanentError):
    """A template failed to compile or render; the message says where and why."""


# dict's own attributes (``items``, ``keys``, ``get``…) keep jinja's attribute-first meaning
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _HeraldSandbox(ImmutableSandboxedEnvironment):
    # `'x' * 10**9` or `10**10**10` would eat memory/CPU before any output cap could help;
    # `+` and `%` can grow a string too (libs/common/templating/template_sizes.py)
    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = LimitedCodeGenerator

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_deadline()
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent larger than {MAX_EXPONENT} is not allowed")
        check_arithmetic(operator, left, right)
        if operator == "%" and isinstance(left, str):
            check_printf(left, right)
        return checked_size(super().call_binop(context, operator, left, right), operator)

    def checked_concat(self, join: Any, parts: tuple[Any, ...]) -> Any:
        return checked_concat(join, parts)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> Any:  # the spec's widths, the arguments' sizes
            check_format(fmt, args, kwargs)
            return wrapper(*args, **kwargs)

        return update_wrapper(checked, value)

    def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
        return instrument(super()._parse(source, name, filename), self)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``payload.title`` on a plain dict: jinja tries the attribute first and falls back to
        the item after an AttributeError — an exception per dot, ~10 % of the processor's CPU.
        Same answer (the item, or undefined), without the exception; the rest as jinja does.
        (No deadline check: the hottest hook, and a lookup is O(1); every loop step, output,
        call, filter and operator checks it.)"""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if obj is step:  # the instrumentation's own call, once per loop iteration: kept cheap
            return step(*args)
        check_deadline()
        if obj is range and args and any(isinstance(a, int) and abs(a) > MAX_RANGE for a in args):
            raise SecurityError(f"range() larger than {MAX_RANGE} is not allowed in templates")
        args = checked_call_args(obj, args, kwargs)
        return checked_size(super().call(context, obj, *args, **kwargs), "call")


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output passes here before it becomes text: a list repeating a long
    string is refused before ``str()`` builds it, and the render pays for what it produced."""
    produce(len(value) if type(value) is str else check_text(value, "{{ }} output"))
    return value


@lru_cache(maxsize=2)
def environment(html: bool) -> ImmutableSandboxedEnvironment:
    env = _HeraldSandbox(
        autoescape=select_autoescape(default=html, default_for_string=html),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.globals["range"] = range
    env.globals[TICK] = step
    del env.globals["lipsum"]  # lorem ipsum of any length: nothing a notification needs
    env.filters = {name: limited_filter(name, f) for name, f in env.filters.items()}
    return env


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    body_html: str | None = None


def render_string(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    try:
        template = _compile(source, html)
        budget = open_budget()  # unless the caller opened one for the whole template
        try:
            out = _render(template, context)
        finally:
            close_budget(budget)
    except RenderDeadlineExceeded as exc:
        raise TemplateRenderError(f"deadline: {exc}") from exc
    except SecurityError as exc:
        raise TemplateRenderError(f"sandbox: {exc}") from exc
    except TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        where = f" (line {lineno})" if lineno else ""
        raise TemplateRenderError(f"{type(exc).__name__}{where}: {exc}") from exc
    except (TypeError, ValueError, AttributeError, ArithmeticError, LookupError) as exc:
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    except (RecursionError, MemoryError) as exc:  # a macro calling itself, a last resort
        raise TemplateRenderError(f"sandbox: {type(exc).__name__}") from exc
    if len(out) > MAX_OUTPUT_CHARS:
        raise TemplateRenderError(f"output exceeds {MAX_OUTPUT_CHARS} characters")
    return out


@lru_cache(maxsize=1024)
def _compile(source: str, html: bool) -> Any:
    return environment(html).from_string(source)


def _render(template: Any, context: dict[str, Any]) -> str:
    """``template.render(context)`` at half the cost: Template.render merges the globals
    ChainMap into a fresh dict on every call (~15 us); the processor renders ~6 texts per
    event, so the globals are merged once here and the context is built with shared=True.
    (The join below cannot grow past the render's produced-text budget: every output and
    every loop's static text was paid for as it was produced.)"""
    variables = {**_globals(template.environment), **context}
    return str(template.environment.concat(template.root_render_func(
        template.new_context(variables, shared=True))))  # fmt: skip


@lru_cache(maxsize=2)
def _globals(env: Any) -> dict[str, Any]:
    return dict(env.globals)


def validate_template(source: str, *, html: bool = False) -> None:
    """Compile only (syntax); used when an operator saves a template."""
    try:
        environment(html).parse(source)
    except TemplateError as exc:
        raise TemplateRenderError(
            f"syntax error (line {getattr(exc, 'lineno', '?')}): {exc}"
        ) from exc


def render(subject: str, body: str, body_html: str | None, context: dict[str, Any]) -> Rendered:
    with render_budget():  # one deadline for the whole template
        return Rendered(
            subject=render_string(subject, context).strip(),
            body=render_string(body, context),
            body_html=render_string(body_html, context, html=True) if body_html else None,
        )
