"""JSON Schemas embedded by hand in an OpenAPI document.

pydantic's ``json_schema()`` puts nested models under ``$defs`` and points at them with
``#/$defs/<Model>``. Pasted into an OpenAPI document, ``#`` is the document's root, where no
``$defs`` exist: the reference dangles and clients (and schemathesis) cannot read the body.
"""

from __future__ import annotations

from typing import Any

DEFS_PREFIX = "#/$defs/"


def self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``#/$defs/...`` reference replaced by its definition.

    Only for non-recursive models (a cycle raises ValueError rather than looping).
    """
    defs: dict[str, Any] = schema.get("$defs", {})
    body = {k: v for k, v in schema.items() if k != "$defs"}
    inlined: dict[str, Any] = _inline(body, defs, ())
    return inlined


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(DEFS_PREFIX):
        name = ref.removeprefix(DEFS_PREFIX)
        if name in seen:
            raise ValueError(f"recursive schema through {name}: cannot inline")
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(defs[name], defs, (*seen, name)), **siblings}
    return {key: _inline(value, defs, seen) for key, value in node.items()}
