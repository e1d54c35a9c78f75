"""Sizes a template operation would reach, checked before it runs
(libs/common/templating/templates.py).

Once CPython starts one primitive — a power, a join, a ``str()`` of a list, building a set —
nothing interrupts it, not even the render deadline (libs/common/templating/template_budget.py).
Found by tests/integration/security/test_template_deadline.py, each of these ran for seconds to
minutes or built hundreds of megabytes in a single step: ``(9 ** 100 ** 100 ** 100 ** 5) % 7``
(every exponent small, the result 127 million bits), squaring a number in a loop, printing, joining
or ``str()``-ing a list that repeats one long string, ``'{0}' * n`` or ``'%(a)s' * n`` over a long
argument, ``str.join/replace/expandtabs/translate/ljust``, ``int.to_bytes``, ``|sum`` over
lists (quadratic) and ``|unique`` or ``dict()`` over integers sharing one hash (quadratic).
"""

from __future__ import annotations

import types
from collections.abc import Iterable, KeysView, ValuesView
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace

MAX_OUTPUT_CHARS = 200_000  # ~200 KB: far above any real e-mail, far below a memory problem
MAX_FILTER_INT = 10_000  # widths, lengths, counts: a real template uses two or three digits
# About 3,000 decimal digits; multiplying two such numbers takes microseconds.
MAX_INT_BITS = 10_000
# Integers that share one hash (multiples of 2**61 - 1) make a set or dict quadratic: 2,000
# of them take ~20 ms to hash, 10,000 half a second. A digest lists a few hundred items.
MAX_HASHED_ITEMS = 2_000
_OPAQUE_CHARS = 64  # str() of an object that is not data (a macro, a loop, a cycler)
_SEPARATOR_CHARS = 2  # ", " between items, ": " in a dict


def too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} would exceed {MAX_OUTPUT_CHARS} characters")


def text_size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """About how many characters ``str(value)`` has, counting no further than past ``limit``.

    A list repeating one long string is small in memory and huge as text: this walks the data
    (each item paid for by its container before it is visited, so at most ``limit / 2`` visits).
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2  # log10(2) < 1/3
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, bytes | bytearray):
            total += 4 * len(item) + 3  # repr escapes a byte as \xNN
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, dict):
            total += 2 * _SEPARATOR_CHARS * len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView):
            total += _SEPARATOR_CHARS * len(item) + 2
            stack.extend(item)
        else:
            total += _OPAQUE_CHARS
    return total


def check_text(value: Any, what: str) -> int:
    size = text_size(value)
    if size > MAX_OUTPUT_CHARS:
        raise too_large(what)
    return size


def checked_size(value: Any, what: str = "result") -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT_CHARS:
        raise too_large(what)
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"{what}: an integer larger than {MAX_INT_BITS} bits")
    return value


def check_ints(args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    """Integer arguments that are widths, lengths or counts."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FILTER_INT:
            raise SecurityError(f"argument larger than {MAX_FILTER_INT}")


def check_hashed(items: Any, what: str) -> None:
    if hasattr(items, "__len__") and len(items) > MAX_HASHED_ITEMS:
        raise SecurityError(f"{what}: more than {MAX_HASHED_ITEMS} items")


def _integral(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_arithmetic(operator: str, left: Any, right: Any) -> None:
    """Refuse ``**``, ``*`` and ``+`` whose result would be too large, before computing it."""
    if _integral(left) and _integral(right):
        if operator == "**" and right > 0 and abs(left) > 1:
            bits = (abs(left).bit_length() - 1) * right  # log2(left) * right, at least
        elif operator == "*":
            bits = left.bit_length() + right.bit_length() - 1
        else:
            return
        if bits > MAX_INT_BITS:
            raise SecurityError(f"{operator} result larger than {MAX_INT_BITS} bits")
    elif operator == "*":
        for seq, n in ((left, right), (right, left)):
            if _sized(seq) and _integral(n) and len(seq) * n > MAX_OUTPUT_CHARS:
                raise too_large("* repetition")
    elif operator == "+" and _sized(left) and _sized(right):
        _refuse_over(len(left) + len(right), "+")


def _refuse_over(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise too_large(what)


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def replace_size(text: str, old: str, new: str) -> int:
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * max(len(new) - len(old), 0)


def join_size(separator: str, items: list[Any]) -> int:
    return text_size(items) + len(separator) * len(items)


def _method_size(owner: str | bytes, name: str, args: tuple[Any, ...]) -> int:
    """The size a growing str/bytes method would produce (0: not one of them)."""
    first: Any = args[0] if args else None
    if name == "join" and first is not None:
        return join_size(str(owner), list(first))
    if name == "replace" and len(args) >= 2:
        return replace_size(str(owner), str(args[0]), str(args[1]))
    if name == "expandtabs":
        width = first if _integral(first) else 8
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * width
    if name == "translate" and isinstance(first, dict):
        longest = max((text_size(v) for v in first.values()), default=1)
        return len(owner) * max(longest, 1)
    return 0


def checked_call_args(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a call before it runs; the arguments to call it with (an iterable that will be
    hashed or joined is materialized once, so its size can be checked)."""
    if obj is dict or _is_method(obj, dict, "fromkeys"):
        args = tuple(a if isinstance(a, dict | list | tuple) else list(a) for a in args)
        for arg in args:
            check_hashed(arg, "dict()")
        return args
    owner = getattr(obj, "__self__", None)
    # methods of str (and Markup, whose methods are Python ones), bytes and int
    if not isinstance(obj, _METHODS) or not isinstance(owner, str | bytes | int):
        return args
    if obj.__name__ == "join" and args and not isinstance(args[0], list | tuple):
        args = (list(args[0]), *args[1:])
    check_ints(args, kwargs)
    if isinstance(owner, str | bytes):
        _refuse_over(_method_size(owner, obj.__name__, args), f".{obj.__name__}()")
    return args


_METHODS = (types.BuiltinMethodType, types.MethodType)


def _is_method(obj: Any, owner: Any, name: str) -> bool:
    return getattr(obj, "__self__", None) is owner and getattr(obj, "__name__", "") == name
