"""Optional extras a service process refuses before it imports anything (DESIGN §12: five
idle services in 300 MiB, bench/memory).

httpx imports its command line (click, pygments, rich), structlog its pretty console (rich),
httpcore trio and uvicorn watchfiles (for ``--reload``), each only because they happen to be
installed (typer brings rich, uvicorn[standard] watchfiles, the dev tools trio). A service
writes JSON logs, runs on asyncio and never reloads: none of it is used, and it costs about
20 MiB per process. Each of those imports sits in ``try … except ImportError``, so refusing
the module leaves the library working without its extra.
"""

from __future__ import annotations

import sys

UNUSED_EXTRAS = ("rich", "httpx._main", "trio", "watchfiles")


def refuse_unused_extras() -> None:
    """Make ``import <extra>`` raise ImportError in this process (unless already imported)."""
    for name in UNUSED_EXTRAS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type] # None = "not importable"
