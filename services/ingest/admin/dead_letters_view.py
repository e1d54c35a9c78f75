"""Dead letters: how many messages wait in each ``<queue>.dead``, and replaying them once the
cause is fixed. The broker work is libs/common/bus/dead_letters.py: one implementation for
the admin and ``herald dlq``."""

from __future__ import annotations

import logging
from typing import ClassVar

from sqladmin import BaseView, expose
from sqladmin.flash import flash
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from libs.common.bus import dead_letters
from libs.common.bus.dead_letters import DeadLetterError
from libs.common.bus.topology import INGEST_QUEUE, PROCESS_QUEUE, SEND_QUEUE, dead_letter_queue
from services.ingest.admin.base import admin_name
from services.ingest.admin.context import AdminContext
from services.ingest.admin.scope import scope_of

log = logging.getLogger("herald.admin")

QUEUES = (INGEST_QUEUE, PROCESS_QUEUE, SEND_QUEUE)
MAX_REPLAY = 10_000  # one click; the command line has no cap


class DeadLettersView(BaseView):
    name = "Dead letters"
    icon = "fa-solid fa-skull-crossbones"
    category = "Activity"
    ctx: ClassVar[AdminContext]

    def is_accessible(self, request: Request) -> bool:
        """Global admins only: the queues, and a replay, are every tenant's."""
        return scope_of(request) is None

    def _amqp_url(self) -> str:
        return str(self.ctx.bus_settings.amqp_url)

    @expose("/dead-letters", methods=["GET"], identity="dead-letters")
    async def dead_letters(self, request: Request) -> Response:
        rows: list[dict[str, object]] = []
        url = self._amqp_url()
        for queue in QUEUES:
            rows.append(
                {"queue": queue, "dead": dead_letter_queue(queue), **await _count(url, queue)}
            )
        context = {"rows": rows, "memory": url.startswith("memory://")}
        return await self.templates.TemplateResponse(
            request, "herald_admin/dead_letters.html", context
        )

    @expose("/dead-letters/replay", methods=["POST"], identity="dead-letters-replay")
    async def replay(self, request: Request) -> Response:
        form = await request.form()
        queue = str(form.get("queue", ""))
        back = RedirectResponse(request.url_for("admin:view-dead-letters"), status_code=302)
        if queue not in QUEUES:
            flash(request, f"unknown queue {queue[:64]!r}", category="danger", title="Refused")
            return back
        limit = _limit(str(form.get("limit") or ""))
        message = await _replay(self._amqp_url(), queue, limit)
        log.info("admin %r replayed dead letters of %s: %s", admin_name(request), queue, message)
        flash(request, message, category="success" if message.startswith("replayed") else "danger")
        return back


def _limit(raw: str) -> int:
    try:
        return max(1, min(MAX_REPLAY, int(raw)))
    except ValueError:
        return MAX_REPLAY


async def _count(url: str, queue: str) -> dict[str, object]:
    if url.startswith("memory://"):
        return {"count": None, "error": "the in-memory bus (herald dev) keeps no dead letters"}
    try:
        return {"count": await dead_letters.count(url, queue), "error": None}
    except (DeadLetterError, OSError) as exc:
        return {"count": None, "error": str(exc)}
    except Exception as exc:  # broker down: the page still loads and says so
        return {"count": None, "error": f"broker unreachable: {exc!r}"[:300]}


async def _replay(url: str, queue: str, limit: int) -> str:
    if url.startswith("memory://"):
        return "not replayed: the in-memory bus keeps no dead letters"
    try:
        moved = await dead_letters.replay(url, queue, limit)
    except DeadLetterError as exc:
        return f"not replayed: {exc}"
    except Exception as exc:
        return f"not replayed: broker unreachable: {exc!r}"[:300]
    return f"replayed {moved} message(s) from {dead_letter_queue(queue)} to {queue}"
