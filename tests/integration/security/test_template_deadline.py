"""Templates bounded in time and memory (DESIGN §13, issue 14): every attack in
test_template_sandbox.UNBOUNDED ran for seconds to minutes, or built hundreds of megabytes in
one step, before the render deadline and the size checks. Each is now refused within the
default deadline (1 s) — those that only the deadline can stop get a shorter one here, so
the test stays fast — with a small memory peak; and the processor treats a missed deadline
like any template error."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import EventType, Template
from libs.common.templating.template_budget import (
    DEFAULT_DEADLINE_S,
    render_budget,
    render_deadline,
    set_render_deadline,
)
from libs.common.templating.templates import TemplateRenderError, render, render_string
from services.processor.app import create_app
from services.processor.settings import ProcessorSettings
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    store,
)
from tests.unit.security.test_template_sandbox import (
    COLLIDING,
    CTX,
    ORDINARY,
    UNBOUNDED,
    UNBOUNDED_ON_DATA,
)

SHORT_DEADLINE_S = 0.3
MAX_PEAK_BYTES = 32 * 1024 * 1024  # the attacks below reached 190-760 MiB before
TYPE = "tenders.tender.requirement_added"
SLOW = UNBOUNDED["work in every step"]  # ~3 s of CPU without a deadline, output "ok"


@pytest.fixture
def short_deadline() -> Iterator[float]:
    set_render_deadline(SHORT_DEADLINE_S)
    yield SHORT_DEADLINE_S
    set_render_deadline(DEFAULT_DEADLINE_S)


def _measured(source: str, context: dict[str, Any]) -> tuple[str, float, int]:
    """Render, expecting a refusal: (the reason, seconds taken, peak bytes allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TemplateRenderError) as refused:
            render_string(source, context)
        return str(refused.value), time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("source", "context"),
    [(s, CTX) for s in UNBOUNDED.values()] + [(s, COLLIDING) for s in UNBOUNDED_ON_DATA.values()],
    ids=[*UNBOUNDED, *UNBOUNDED_ON_DATA],
)
def test_every_attack_is_refused_within_the_deadline_in_little_memory(
    short_deadline: float, source: str, context: dict[str, Any]
) -> None:
    reason, seconds, peak = _measured(source, context)
    assert seconds < DEFAULT_DEADLINE_S, (seconds, reason)
    assert peak < MAX_PEAK_BYTES, (peak, reason)


def test_the_issues_pow_chain_is_refused_at_once_under_the_default_deadline() -> None:
    assert render_deadline() == DEFAULT_DEADLINE_S
    reason, seconds, _peak = _measured(UNBOUNDED["pow chain, never printed"], CTX)
    assert "bits" in reason and seconds < 0.1 * DEFAULT_DEADLINE_S


def test_a_missed_deadline_names_itself(short_deadline: float) -> None:
    reason, seconds, _peak = _measured(SLOW, CTX)
    assert reason.startswith("deadline:") and f"{short_deadline:g} s" in reason
    assert short_deadline <= seconds < short_deadline + 0.5


def test_subject_body_and_html_share_one_deadline() -> None:
    loop = "{% for i in range(3) %}.{% endfor %}"
    with render_budget(0.05):
        assert render_string(loop, CTX) == "..."
        time.sleep(0.06)
        with pytest.raises(TemplateRenderError, match="deadline"):
            render_string(loop, CTX)
    assert render(loop, loop, loop, CTX).body == "..."  # a fresh budget for the next one


@pytest.mark.parametrize("source", sorted(ORDINARY))
def test_ordinary_templates_render_under_a_short_deadline(
    short_deadline: float, source: str
) -> None:
    assert render_string(source, CTX) == ORDINARY[source]


def test_the_setting_reaches_the_renderer(database_url: str) -> None:
    settings = ProcessorSettings(
        database_url=database_url, amqp_url="memory://x", template_render_deadline_s=0.25
    )
    try:
        create_app(settings)
        assert render_deadline() == 0.25
    finally:
        set_render_deadline(DEFAULT_DEADLINE_S)


async def test_processor_fails_only_the_event_whose_template_misses_its_deadline(
    sessions: async_sessionmaker[AsyncSession], database_url: str, short_deadline: float
) -> None:
    """Like any template error (DESIGN §5): rolled back, the reason recorded, `failed` past
    the attempts; the other events of the batch are processed."""
    slow_type = EventType(key=TYPE, source="tenders", default_channels=["email"])
    slow = Template(event_type=TYPE, channel="email", locale="ru", subject="s", body=SLOW)
    await add(sessions, person("u-17"), slow_type, slow)
    doomed = await store(sessions, event(recipients={"assignee": ["u-17"]}))
    fine = await store(sessions, event(type="tender.closed", recipients={"assignee": ["u-17"]}))
    worker = await processor(sessions, database_url, processor_max_attempts=1)
    started = time.perf_counter()
    assert await worker.process_ids([doomed, fine]) == 1
    assert time.perf_counter() - started < 10 * short_deadline
    failed, processed = await event_row(sessions, doomed), await event_row(sessions, fine)
    assert failed.status == "failed" and processed.status == "processed"
    assert failed.error is not None and "deadline" in failed.error and "template" in failed.error
