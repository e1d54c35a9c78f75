"""Resource limits for sandboxed templates (libs/common/templates.py).

Jinja2's sandbox stops a template reaching Python internals, not one exhausting the worker
that renders it. Found by tests/security/test_template_sandbox.py, each of these took
gigabytes or minutes before this module: ``'%999999999d'|format(1)``, ``'x'|center(10**9)``,
``indent``/``tojson(indent=…)`` with huge widths, ``join`` with a huge separator, doubling a
string with ``~`` or ``+`` in a loop or a recursive macro, and nested loops or macros running
10**9 times. So:

* every filter's integer arguments are capped, the known growth filters are checked for the
  size they would produce *before* they run, and every filter's result is checked after;
* ``~`` concatenations (via the code generator) and ``+`` / ``%`` (via the sandbox's binary
  operator hook) refuse results over the output cap, and format specs with huge widths;
* every loop iteration and macro call spends one step of a per-render budget.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError

MAX_OUTPUT_CHARS = 200_000  # ~200 KB: far above any real e-mail, far below a memory problem
MAX_FILTER_INT = 10_000  # widths, lengths, counts: a real template uses two or three digits
MAX_STEPS = 100_000  # loop iterations + macro calls per render; a digest needs a few hundred
MAX_JSON_INDENT = 16
# filters whose integer arguments are widths, lengths or counts (`'%d'|format(1500000)` and
# `|default(99999)` carry values, not sizes, and stay free)
SIZE_ARGUMENT_FILTERS = frozenset(["center", "indent", "truncate", "wordwrap", "batch", "slice"])
TICK = "herald_template_step"  # the global the instrumented templates call

_PRINTF_WIDTH = re.compile(r"%[-+ #0]*(\*|\d*)(?:\.(\*|\d*))?")
_steps: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_steps")


def too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} would exceed {MAX_OUTPUT_CHARS} characters")


# ---- the step budget ------------------------------------------------------------------------


def start_budget() -> contextvars.Token[list[int]]:
    return _steps.set([0])


def end_budget(token: contextvars.Token[list[int]]) -> None:
    _steps.reset(token)


def step() -> str:
    """Called at the top of every loop body and macro; renders as nothing."""
    counter = _steps.get(None)
    if counter is not None:
        counter[0] += 1
        if counter[0] > MAX_STEPS:
            raise SecurityError(f"more than {MAX_STEPS} loop iterations or macro calls")
    return ""


def instrument(tree: nodes.Template, environment: Any) -> nodes.Template:
    """Insert a step() call at the start of every loop body, macro and call block."""
    found: list[nodes.For | nodes.Macro | nodes.CallBlock] = list(
        tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock))
    )
    for node in found:
        call = nodes.Call(nodes.Name(TICK, "load"), [], [], None, None)
        node.body.insert(0, nodes.Output([call], lineno=node.lineno))
    tree.set_environment(environment)
    return tree


class LimitedCodeGenerator(CodeGenerator):
    """``a ~ b`` compiles to a join; check the joined size."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def checked_size(value: Any, what: str = "result") -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT_CHARS:
        raise too_large(what)
    return value


# ---- format strings -------------------------------------------------------------------------


def check_printf(fmt: str, args: Any = ()) -> None:
    """``'%999999999d' % 1``, and ``'%*d' % (999999999, 1)`` whose width is an argument."""
    for match in _PRINTF_WIDTH.finditer(fmt):
        for number in match.groups():
            if number == "*":
                _check_ints(args if isinstance(args, tuple) else (args,), {})
            elif number and int(number) > MAX_FILTER_INT:
                raise SecurityError(f"format width larger than {MAX_FILTER_INT}")


def check_format_spec(fmt: str) -> None:
    """``'{:>999999999}'.format(x)``: refuse huge widths and nested fields in specs."""
    for _text, _field, spec, _conv in string.Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise SecurityError("nested replacement fields in a format spec are not allowed")
        if any(int(n) > MAX_FILTER_INT for n in re.findall(r"\d+", spec)):
            raise SecurityError(f"format width larger than {MAX_FILTER_INT}")


# ---- filters --------------------------------------------------------------------------------


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else len(str(value))


def _estimate(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The size a growth filter would produce, computed before it runs (0: not one)."""
    arg = args[0] if args else None
    if name == "center":
        return max(_size(value), int(arg if arg is not None else 80))
    if name == "indent":
        width = kwargs.get("width", arg if arg is not None else 4)
        unit = len(width) if isinstance(width, str) else int(width)
        return _size(value) + (str(value).count("\n") + 1) * unit
    if name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = str(value).count(old) if old else _size(value) + 1
        return _size(value) + count * max(len(new) - len(old), 0)
    if name == "join":
        sep = str(kwargs.get("d", arg if arg is not None else ""))
        return _size(value) + len(value) * len(sep) if isinstance(value, list) else 0
    if name == "wordwrap":
        width = int(kwargs.get("width", arg if arg is not None else 79))
        wrap = str(kwargs.get("wrapstring", args[2] if len(args) > 2 else "\n"))
        return _size(value) * (1 + len(wrap) // max(width, 1) + 1)
    if name == "tojson" and abs(int(kwargs.get("indent", arg or 0) or 0)) > MAX_JSON_INDENT:
        raise SecurityError(f"tojson indent larger than {MAX_JSON_INDENT}")
    if name == "format":
        check_printf(str(value), args)
    return 0


def _check_ints(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FILTER_INT:
            raise SecurityError(f"filter argument larger than {MAX_FILTER_INT}")


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_arg = hasattr(func, "jinja_pass_arg")  # context/eval context/env comes first

    @functools.wraps(func)  # keeps jinja_pass_arg
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lead, value, rest = (args[:1], args[1], args[2:]) if passes_arg else ((), args[0], args[1:])
        if name in SIZE_ARGUMENT_FILTERS:
            _check_ints(rest, kwargs)
        if name == "join" and not isinstance(value, str | list):
            value = list(value)  # sized once, so the estimate and the join see the same items
        if _estimate(name, value, rest, kwargs) > MAX_OUTPUT_CHARS:
            raise too_large(f"|{name}")
        return checked_size(func(*lead, value, *rest, **kwargs), f"|{name}")

    return wrapper
