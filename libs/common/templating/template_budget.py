"""One template render's budget: a deadline, loop steps and produced text (DESIGN §13).

A thread running CPU-bound Python cannot be interrupted, so the deadline is cooperative: the
sandbox checks the clock in the hooks a template runs through — each loop iteration, macro and
call block (``step``), each call, intercepted operator, filter and ``~``. What runs between
two checks is one primitive operation, and libs/common/templating/template_sizes.py refuses,
*before* it runs, any primitive that could take long (a huge power, a quadratic ``sum``, hashing
thousands of colliding integers, building hundreds of megabytes). So a render ends within its
deadline plus one bounded primitive: milliseconds.

The budget covers a whole template (subject, body and HTML together): ``render_budget`` opened
around them is shared by every text rendered inside it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from jinja2.exceptions import SecurityError
from pydantic import Field

from libs.common.runtime.settings import HeraldSettings

# A notification renders in well under a millisecond and a 300-item digest in a few; a second
# is three orders of magnitude of headroom, and short enough that one template cannot stall a
# processor (it renders on its event loop) or an admin preview thread for long.
DEFAULT_DEADLINE_S = 1.0
MAX_STEPS = 100_000  # loop iterations + macro calls per render; a digest needs a few hundred
# Text produced by one render, kept or not (set blocks, macro results, output): ten times the
# output cap, so a loop appending the same 200,000-character string 100,000 times (20 GB at
# the final join) stops after 2 MB.
MAX_PRODUCED_CHARS = 2_000_000


class TemplateSettings(HeraldSettings):
    template_render_deadline_s: float = Field(
        default=DEFAULT_DEADLINE_S,
        gt=0,
        le=60,
        description="longest one template (subject, body, HTML) may take to render; past it "
        "the render fails (processor: like any template error; admin: not saved)",
    )


class RenderDeadlineExceeded(SecurityError):
    """The render ran past its deadline."""


@dataclass(slots=True)
class Budget:
    seconds: float
    ends_at: float  # time.monotonic()
    steps: int = 0
    produced: int = 0


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)
_deadline_s = [DEFAULT_DEADLINE_S]  # the process's setting; a service sets it at start-up


def set_render_deadline(seconds: float) -> None:
    if seconds <= 0:
        raise ValueError("the render deadline must be positive")
    _deadline_s[0] = seconds


def render_deadline() -> float:
    return _deadline_s[0]


@contextmanager
def render_budget(seconds: float | None = None) -> Iterator[Budget]:
    """A fresh budget for what renders inside; inside another one, that one holds."""
    token = open_budget(seconds)
    try:
        yield _budget.get() or Budget(0.0, 0.0)
    finally:
        close_budget(token)


def open_budget(seconds: float | None = None) -> contextvars.Token[Budget | None] | None:
    """``render_budget`` without a generator's cost (~1 us), for the processor's hot path."""
    if _budget.get() is not None:
        return None
    limit = render_deadline() if seconds is None else seconds
    return _budget.set(Budget(limit, time.monotonic() + limit))


def close_budget(token: contextvars.Token[Budget | None] | None) -> None:
    if token is not None:
        _budget.reset(token)


def check_deadline() -> None:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.ends_at:
        raise _late(budget)


def _late(budget: Budget) -> RenderDeadlineExceeded:
    return RenderDeadlineExceeded(f"rendering took longer than its {budget.seconds:g} s deadline")


def produce(chars: int) -> None:
    """Count text a render produced; past the budget stop it. Runs for every ``{{ }}`` output,
    so it reads no clock: outputs outside loops are as many as the template's source allows,
    and inside loops every step reads it."""
    budget = _budget.get()
    if budget is not None:
        budget.produced += chars
        if budget.produced > MAX_PRODUCED_CHARS:
            _overspent(budget)


def step(static_chars: int = 0) -> str:
    """Called at the top of every loop body, macro and call block with the size of the body's
    own static text (which is written without passing through any hook); renders as nothing."""
    budget = _budget.get()
    if budget is not None:
        budget.steps += 1
        budget.produced += static_chars
        if budget.steps > MAX_STEPS:
            raise SecurityError(f"more than {MAX_STEPS} loop iterations or macro calls")
        if budget.produced > MAX_PRODUCED_CHARS or time.monotonic() > budget.ends_at:
            _overspent(budget)
    return ""


def _overspent(budget: Budget) -> None:
    if budget.produced > MAX_PRODUCED_CHARS:
        raise SecurityError(f"more than {MAX_PRODUCED_CHARS} characters of text produced")
    raise _late(budget)
