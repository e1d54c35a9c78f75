"""How many bytes each event of a ``POST /v1/events`` body took on the wire.

The 1 MiB event limit counts the bytes the producer sent, as on AMQP, where one message is one
event. Re-encoding the parsed event instead measured something else: ``json.dumps`` escapes
every non-ASCII character as ``\\uXXXX``, so a 600 KB Cyrillic event became 1.8 MB and was
refused over HTTP while the same bytes passed over AMQP.

A batch is a JSON array: each element's size is the length of its own text between the
array's commas (surrounding whitespace left out), found by one scan that skips strings whole.
"""

from __future__ import annotations

import re

# a JSON string (escapes included) or one structural character; everything else is skipped
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


def item_sizes(raw: bytes) -> list[int]:
    """Bytes of each event in a valid JSON body: one for an object, one per array element."""
    body = raw.strip()
    if not body.startswith(b"["):
        return [len(body)]
    sizes: list[int] = []
    depth, start = 0, 1
    for token in _TOKENS.finditer(body):
        char = body[token.start()]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        if (char == ord(",") and depth == 1) or depth == 0:
            element = body[start : token.start()].strip()
            if element:
                sizes.append(len(element))
            start = token.end()
    return sizes
