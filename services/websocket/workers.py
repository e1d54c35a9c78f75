"""``herald run websocket --workers N``: N gateway processes on one port (SO_REUSEPORT).

The kernel spreads new connections over the processes; each has its own exclusive queue, so
every process sees every browser push and entity event and serves its own connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a spawned worker refuses what it does not use before the settings load
    from services.websocket.settings import WebsocketSettings

STOP_GRACE_S = 10.0


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (it comes with uvicorn[standard]): less memory per transport."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is present on Linux installs
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def serve_gateway(
    settings: WebsocketSettings, host: str, port: int, workers: int, log_level: str
) -> None:
    from services.websocket.feeds import FeedsConfigError, load_feeds

    try:
        load_feeds(settings.ws_feeds_file)  # fail once, readably, before any worker starts
    except FeedsConfigError as exc:
        print(f"herald websocket: cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
    if workers <= 1:
        run_loop(_serve(settings, host, port, reuse_port=False))
        return
    import multiprocessing  # only for --workers N (one worker: not loaded)

    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(host, port, log_level, i), name=f"herald-ws-{i}")
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()

    def stop(_sig: int, _frame: object) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        sys.exit(1)


def _worker(host: str, port: int, log_level: str, index: int) -> None:
    """A spawned process: settings come from the inherited environment."""
    from libs.common.runtime.lean_imports import refuse_unused_crypto, refuse_unused_extras

    refuse_unused_extras()  # as `herald run` does, before structlog (it would load rich)
    refuse_unused_crypto()  # before the settings import PyJWT
    from libs.common.runtime.logging import configure_logging
    from services.websocket.settings import WebsocketSettings

    configure_logging(log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    settings = WebsocketSettings()
    if settings.metrics_port:  # one registry per worker: each needs its own scrape address
        settings = settings.model_copy(update={"metrics_port": settings.metrics_port + index})
    run_loop(_serve(settings, host, port, reuse_port=True))


async def _serve(settings: WebsocketSettings, host: str, port: int, reuse_port: bool) -> None:
    """SIGTERM closes the server gracefully (clients get 1001 and reconnect elsewhere)."""
    from services.websocket.app import run

    task = asyncio.create_task(run(settings, host, port, reuse_port=reuse_port))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    # a SIGTERM while the gateway is still starting (connecting to the broker) is a clean stop
    with contextlib.suppress(asyncio.CancelledError):
        await task
