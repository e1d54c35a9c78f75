"""Resource limits for sandboxed templates (libs/common/templating/templates.py).

Jinja2's sandbox stops a template reaching Python internals, not one exhausting the worker
that renders it. Found by tests/unit/security/test_template_sandbox.py, each of these took
gigabytes or minutes before this module: ``'%999999999d'|format(1)``, ``'x'|center(10**9)``,
``indent``/``tojson(indent=…)`` with huge widths, ``join`` with a huge separator, doubling a
string with ``~`` or ``+`` in a loop or a recursive macro, and nested loops or macros running
10**9 times. So:

* every filter's integer arguments are capped, the known growth filters are checked for the
  size they would produce *before* they run, and every filter's result is checked after;
* ``~`` concatenations (via the code generator) and ``+`` / ``%`` (via the sandbox's binary
  operator hook) refuse results over the output cap, and format strings whose widths or
  repeated arguments would (``'{0}' * 2000`` over a long argument);
* every loop iteration and macro call spends one step of the render's budget and pays for its
  own static text (libs/common/templating/template_budget.py).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError

from libs.common.templating.template_budget import check_deadline
from libs.common.templating.template_sizes import (
    MAX_FILTER_INT,
    MAX_OUTPUT_CHARS,
    check_hashed,
    check_ints,
    check_text,
    checked_size,
    join_size,
    replace_size,
    text_size,
    too_large,
)

MAX_JSON_INDENT = 16
# filters whose integer arguments are widths, lengths or counts (`'%d'|format(1500000)` and
# `|default(99999)` carry values, not sizes, and stay free)
SIZE_ARGUMENT_FILTERS = frozenset(["center", "indent", "truncate", "wordwrap", "batch", "slice"])
# filters that take a list or dict as such; every other one turns its input into text, so a
# list repeating a long string is refused before it is (`(['x' * 199999] * 2000)|tojson`)
STRUCTURAL_FILTERS = frozenset(
    [
        "abs", "attr", "batch", "count", "d", "default", "dictsort", "first", "float",
        "groupby", "int", "items", "join", "last", "length", "list", "map", "max", "min",
        "random", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice",
        "sort", "sum", "unique",
    ]
)  # fmt: skip
TICK = "herald_template_step"  # the global the instrumented templates call

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d*)(?:\.(\*|\d*))?")


# ---- code generation ------------------------------------------------------------------------


def _own_static_chars(node: nodes.Node) -> int:
    """Static text in a loop or macro body, not counting nested loops and macros (they pay
    for their own)."""
    total = 0
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.TemplateData):
            total += len(child.data)
        elif not isinstance(child, nodes.For | nodes.Macro | nodes.CallBlock):
            total += _own_static_chars(child)
    return total


def instrument(tree: nodes.Template, environment: Any) -> nodes.Template:
    """Insert a step(<static chars>) call at the start of every loop body, macro and call
    block."""
    found: list[nodes.For | nodes.Macro | nodes.CallBlock] = list(
        tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock))
    )
    for node in found:
        static = sum(_own_static_chars(child) for child in node.body)
        call = nodes.Call(nodes.Name(TICK, "load"), [nodes.Const(static)], [], None, None)
        node.body.insert(0, nodes.Output([call], lineno=node.lineno))
    tree.set_environment(environment)
    return tree


class LimitedCodeGenerator(CodeGenerator):
    """``a ~ b`` compiles to a join of ``str()`` of each part: hand the parts to
    ``environment.checked_concat(join, parts)`` so their size is checked before the join."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.checked_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def checked_concat(join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
    check_deadline()
    check_text(list(parts), "~ concatenation")
    joined: str = checked_size(join(parts), "~ concatenation")
    return joined


# ---- format strings -------------------------------------------------------------------------


def _printf_values(args: Any) -> list[Any]:
    if isinstance(args, tuple):
        return list(args)
    return list(args.values()) if isinstance(args, dict) else [args]


def check_printf(fmt: str, args: Any = ()) -> None:
    """``'%999999999d' % 1``; ``'%*d' % (999999999, 1)`` whose width is an argument; and
    ``('%s' * 2000) % args`` whose conversions each repeat up to the longest argument."""
    values = _printf_values(args)
    widest = max((text_size(v) for v in values), default=0)
    total = len(fmt)
    for match in _PRINTF_SPEC.finditer(fmt):
        total += widest
        for number in match.groups():
            if number == "*":
                check_ints(values, {})
                total += MAX_FILTER_INT
            elif number:
                total += _width(int(number))
        if total > MAX_OUTPUT_CHARS:
            raise too_large("% formatting")


def check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``'{:>999999999}'.format(x)`` and nested fields in specs; ``('{0}' * 2000).format(x)``
    whose fields each repeat up to the longest argument."""
    widest = max((text_size(v) for v in (*args, *kwargs.values())), default=0)
    total = len(fmt)
    for _text, field, spec, _conv in string.Formatter().parse(fmt):
        total += widest if field is not None else 0
        if spec and "{" in spec:
            raise SecurityError("nested replacement fields in a format spec are not allowed")
        total += sum(_width(int(n)) for n in re.findall(r"\d+", spec or ""))
        if total > MAX_OUTPUT_CHARS:
            raise too_large(".format()")


def _width(number: int) -> int:
    if number > MAX_FILTER_INT:
        raise SecurityError(f"format width larger than {MAX_FILTER_INT}")
    return number


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
        return replace_size(str(value), str(args[0]), str(args[1]))
    if name == "join":
        sep = str(kwargs.get("d", arg if arg is not None else ""))
        return join_size(sep, value) if isinstance(value, list) else 0
    if name == "wordwrap":
        width = int(kwargs.get("width", arg if arg is not None else 79))
        wrap = str(kwargs.get("wrapstring", args[2] if len(args) > 2 else "\n"))
        return _size(value) * (1 + len(wrap) // max(width, 1) + 1)
    if name == "tojson" and abs(int(kwargs.get("indent", arg or 0) or 0)) > MAX_JSON_INDENT:
        raise SecurityError(f"tojson indent larger than {MAX_JSON_INDENT}")
    if name == "format":
        check_printf(str(value), kwargs or args)
    _check_structural(name, value, args, kwargs)
    return 0


def _check_structural(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "sum":  # sum(iterable, attribute, start): a list start makes it quadratic
        start = kwargs.get("start", args[1] if len(args) > 1 else 0)
        if not isinstance(start, int | float):
            raise SecurityError("|sum adds numbers only")
    elif name == "unique":
        check_hashed(value, "|unique")
    elif name not in STRUCTURAL_FILTERS and not isinstance(value, str):
        check_text(value, f"|{name}")


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_arg = hasattr(func, "jinja_pass_arg")  # context/eval context/env comes first

    @functools.wraps(func)  # keeps jinja_pass_arg
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_deadline()
        lead, value, rest = (args[:1], args[1], args[2:]) if passes_arg else ((), args[0], args[1:])
        if name in SIZE_ARGUMENT_FILTERS:
            check_ints(rest, kwargs)
        if name in ("join", "unique") and not isinstance(value, str | list):
            value = list(value)  # sized once, so the estimate and the filter see the same items
        if _estimate(name, value, rest, kwargs) > MAX_OUTPUT_CHARS:
            raise too_large(f"|{name}")
        return checked_size(func(*lead, value, *rest, **kwargs), f"|{name}")

    return wrapper
