"""What each browser tab got (``browsers.Tab``) against the user's inbox at the end.

Per tab, over every cursor value after its first ``welcome`` up to the user's final one (the
highest visible item, ``access = 'allowed'``, in the database at the end; values are
contiguous, ``libs/common/inbox/inbox_cursor.py``): **lost** — neither delivered nor shown by a REST
reload;
**duplicated** — delivered more than once (the tab always resumes, so its whole life is one
connection+resume chain; a reload moves it past everything it already has); **out of order** —
delivered at or below a value it already had; **unexpected** — delivered but not a visible
item of that user in the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from tests.acceptance.chaos.browsers import Tab
from tests.acceptance.chaos.population import TENANT
from tests.infra import raw_pg_dsn

SAMPLE_TABS, SAMPLE_VALUES = 3, 5  # what a problem line quotes
VISIBLE_SQL = """
SELECT id, user_seq FROM notifications
WHERE tenant = $1 AND user_id = $2 AND access = 'allowed' AND user_seq IS NOT NULL"""


@dataclass
class TabCount:
    tab: str
    first_seq: int
    final_seq: int  # the user's highest visible cursor value at the end
    expected: int  # cursor values after the first welcome, up to the final one
    delivered: int  # notification frames, repeats included
    reloaded: int  # of the expected, shown by a REST reload only
    lost: list[int] = field(default_factory=list)
    duplicated: dict[int, int] = field(default_factory=dict)  # value → times delivered
    out_of_order: list[tuple[int, int]] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    connects: int = 0
    resumes: int = 0
    reloads: int = 0
    failures: dict[str, int] = field(default_factory=dict)


async def inboxes(db_url: str, users: set[str]) -> dict[str, dict[int, int]]:
    """User → {notification id: cursor value} of the visible items."""
    conn = await asyncpg.connect(raw_pg_dsn(db_url))
    try:
        return {u: {r[0]: r[1] for r in await conn.fetch(VISIBLE_SQL, TENANT, u)} for u in users}
    finally:
        await conn.close()


def count_tab(tab: Tab, inbox: dict[int, int]) -> TabCount:
    first = tab.first_seq if tab.first_seq is not None else 0
    visible = set(inbox.values())
    expected = set(range(first + 1, max(visible, default=0) + 1))
    got = Counter(tab.delivered)
    reloaded = {inbox[i] for i in tab.reloaded_ids if i in inbox} - set(got)
    return TabCount(
        tab.name, first, max(visible, default=0), len(expected), len(tab.delivered),
        len(expected & reloaded), sorted(expected - set(got) - reloaded),
        {s: n for s, n in got.items() if n > 1}, list(tab.out_of_order),
        sorted(set(got) - visible), tab.connects, tab.resumes, tab.reloads, dict(tab.failures),
    )  # fmt: skip


def browser_problems(counts: list[TabCount]) -> list[str]:
    """Each broken promise at the browser, in words; empty when every tab got everything once."""
    checks: list[tuple[str, Any]] = [
        ("browser notifications lost (tab → cursor values)", {c.tab: c.lost for c in counts}),
        ("browser notifications duplicated (tab → value: times)",
         {c.tab: c.duplicated for c in counts}),
        ("browser notifications out of order (tab → (had, then got))",
         {c.tab: c.out_of_order for c in counts}),
        ("browser notifications not in the inbox (tab → values)",
         {c.tab: c.unexpected for c in counts}),
        ("browser tabs whose last visit never resumed",
         {c.tab: c.failures for c in counts if "final visit never resumed" in c.failures}),
    ]  # fmt: skip
    out = []
    for what, by_tab in checks:
        found = {t: v for t, v in by_tab.items() if v}
        if found:
            total = sum(len(v) for v in found.values())
            sample = {t: _head(v) for t, v in list(found.items())[:SAMPLE_TABS]}
            out.append(f"{what}: {total} (e.g. {sample})")
    if counts and not any(c.expected for c in counts):
        out.append("browser tabs: no notification became visible for any of their users")
    return out


def _head(found: Any) -> Any:
    """The first few of a tab's findings: a whole list may run to hundreds."""
    if isinstance(found, dict):
        return dict(list(found.items())[:SAMPLE_VALUES])
    return list(found)[:SAMPLE_VALUES]
