"""The processor's garbage-collector settings.

Matching keeps ~100,000 compiled subscriptions alive and every batch allocates tens of
thousands of short-lived objects across awaits, so CPython's defaults (a young collection every
700 allocations, a full one whenever survivors grow by a quarter) walked the whole heap again
and again: on the matching benchmark a full collection ran every ~0.5 s. Reference counting
frees almost everything here; the collector is only for cycles, so it can run far less often.
"""

from __future__ import annotations

import gc

YOUNG_ALLOCATIONS = 10_000  # net allocations between young collections (CPython: 700)
OLDER_PASSES = 10  # younger collections before the next generation's (CPython: 10)


_tuned = False


def tune_collector() -> None:
    """At start-up, after the imports: what exists then (modules, classes, the channel
    registry; ~180,000 objects) lives as long as the process, so it is moved out of the
    collector's sight, and collections become rarer. Once per process (``herald dev`` and the
    tests start the app more than once)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.freeze()
    gc.set_threshold(YOUNG_ALLOCATIONS, OLDER_PASSES, OLDER_PASSES)
