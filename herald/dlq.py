"""``herald dlq``: look at and re-drive dead-lettered messages.

The broker work is ``libs/common/bus/dead_letters.py`` (shared with the admin's dead-letters
page); this module is the command line around it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from libs.common.bus.topology import INGEST_QUEUE, dead_letter_queue

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1/"

app = typer.Typer(help="Dead-lettered messages: count and replay.", no_args_is_help=True)

AmqpUrl = Annotated[str, typer.Option("--amqp-url", help="broker URL (default: HERALD_AMQP_URL)")]
QueueName = Annotated[str, typer.Option("--queue", help="the queue whose dead letters to handle")]


def _url(amqp_url: str) -> str:
    return amqp_url or os.environ.get("HERALD_AMQP_URL", DEFAULT_AMQP_URL)


@app.command("count")
def count_command(queue: QueueName = INGEST_QUEUE, amqp_url: AmqpUrl = "") -> None:
    """How many messages wait in <queue>.dead."""
    from libs.common.bus.dead_letters import DeadLetterError, count  # the broker client, now

    try:
        waiting = asyncio.run(count(_url(amqp_url), queue))
    except DeadLetterError as exc:
        typer.echo(f"cannot count: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{dead_letter_queue(queue)}: {waiting}")


@app.command("replay")
def replay_command(
    queue: QueueName = INGEST_QUEUE,
    limit: Annotated[int | None, typer.Option(help="replay at most this many")] = None,
    amqp_url: AmqpUrl = "",
) -> None:
    """Move messages from <queue>.dead back to <queue> (fix the cause first)."""
    from libs.common.bus.dead_letters import DeadLetterError, replay

    try:
        moved = asyncio.run(replay(_url(amqp_url), queue, limit))
    except DeadLetterError as exc:
        typer.echo(f"not replayed: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"replayed {moved} message(s) from {dead_letter_queue(queue)} to {queue}")
