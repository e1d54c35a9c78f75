"""The ``herald`` command: run a service, migrate, develop locally, emit events."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from herald.dlq import app as dlq_app
from herald.emit import DEV_API_KEY, load_event
from herald.services import Service, build_asgi, prepare, uvicorn_settings
from herald.settings_errors import explain
from herald.tenants import app as tenant_app

app = typer.Typer(
    help="Herald — a notification hub. Events in; the right people notified exactly once.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


@app.command()
def run(
    service: Annotated[Service, typer.Argument(help="which service to run")],
    host: Annotated[str, typer.Option(help="interface to listen on")] = "0.0.0.0",
    port: Annotated[int | None, typer.Option(help="port (default: the service's own)")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    workers: Annotated[
        int, typer.Option(min=1, help="websocket only: processes sharing the port (SO_REUSEPORT)")
    ] = 1,
) -> None:
    """Run one service in the foreground (production: one process per service).

    Default ports: ingest 8000, websocket 8001, acl_mediator 8002, processor 8003,
    sender 8004. Settings come from HERALD_* environment variables or a .env file.
    """
    try:
        settings = prepare(service, log_level)
    except ValidationError as exc:
        _fail(explain(service.value, exc))
    bind_port = service.default_port if port is None else port  # 0: an ephemeral port
    if service is Service.websocket:
        from services.websocket.workers import serve_gateway

        serve_gateway(settings, host, bind_port, workers, log_level)
        return
    import uvicorn

    uvicorn.run(build_asgi(service, settings), **uvicorn_settings(host, bind_port))


@app.command("acl-reference")
def acl_reference(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="port")] = 8005,
) -> None:
    """The reference permissions backend on HERALD_DATABASE_URL: the people of an object may
    read it, their managers too (docs/permissions.md). compose.yaml runs it in place of your
    modules' own endpoints; replace it with them. HERALD_ACL_REFERENCE_TOKEN: the bearer
    token calls must carry."""
    import uvicorn

    from services.acl_mediator.reference_server import ReferenceSettings, reference_app

    try:
        settings = ReferenceSettings()
    except ValidationError as exc:
        _fail(explain("acl-reference", exc))
    uvicorn.run(reference_app(settings), **uvicorn_settings(host, port))


@app.command()
def doctor(
    service: Annotated[
        list[Service] | None, typer.Argument(help="the services to check (default: all five)")
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="per connection, in seconds")] = 3.0,
) -> None:
    """Check a configuration without starting anything: each service's settings and files,
    and whether the database (migrated?), RabbitMQ, SMTP, the mediator, the module backends
    and the JWKS URL answer. Prints what is wrong and how to fix it; exit code 1 if anything
    is (for CI)."""
    from herald.doctor import plan, report
    from herald.doctor import run as probe

    services = service or list(Service)
    typer.echo(f"herald doctor: {', '.join(s.value for s in services)}")
    text, code = report(asyncio.run(probe(plan(services, timeout_s), timeout_s)))
    typer.echo(text)
    raise typer.Exit(code)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="target Alembic revision")] = "head",
) -> None:
    """Create or upgrade the database schema (HERALD_DATABASE_URL), then seed default
    templates that are missing. Safe to run again."""
    from libs.common.db.migrate import upgrade
    from libs.common.runtime.settings import DatabaseSettings

    try:
        url = DatabaseSettings().database_url
    except ValidationError as exc:
        _fail(explain("migrate", exc))
    upgrade(url, revision)
    added = asyncio.run(_seed(url))
    typer.echo(f"database at {revision}; {added} default templates added")


async def _seed(url: str) -> int:
    from herald.database import in_transaction
    from libs.common.catalog.defaults import seed_defaults

    return await in_transaction(url, seed_defaults)


@app.command()
def dev(
    data_dir: Annotated[Path, typer.Option(help="where the SQLite file and outbox live")] = Path(
        "herald-dev"
    ),
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
) -> None:
    """Run all five services in one process on SQLite and an in-memory bus, with demo data
    and an e-mail outbox folder instead of SMTP. No servers needed."""
    from herald.dev import run_dev

    asyncio.run(run_dev(data_dir, host))


@app.command()
def emit(
    file: Annotated[
        Path | None, typer.Option(help="JSON file with one event (default: sample)")
    ] = None,
    via: Annotated[str, typer.Option(help="http or amqp")] = "http",
    url: Annotated[str, typer.Option(help="ingest base URL (http) or AMQP URL")] = "",
    api_key: Annotated[
        str, typer.Option(envvar="HERALD_EMIT_API_KEY", help="X-API-Key")
    ] = DEV_API_KEY,
) -> None:
    """Publish an event: a sample tender event, or the one in --file.

    With `herald dev` running, `herald emit` alone sends the sample over HTTP and an e-mail
    appears in herald-dev/outbox within a second.
    """
    from libs.common.clients.producer import EventProducer
    from libs.common.runtime.errors import HeraldError

    event = load_event(file)
    if via == "amqp":
        producer = EventProducer.amqp(
            url or os.environ.get("HERALD_AMQP_URL", "amqp://guest:guest@127.0.0.1/")
        )
    elif via == "http":
        producer = EventProducer.http(url or "http://127.0.0.1:8000", api_key)
    else:
        _fail("--via must be http or amqp")

    async def go() -> str | None:
        async with producer:
            return await producer.emit(event)

    try:
        stored = asyncio.run(go())
    except (HeraldError, ValueError) as exc:
        _fail(f"not sent: {exc}")
    typer.echo(
        f"sent {event['source']}.{event['type']} id={event['id']}"
        + (f" stored as {stored}" if stored else " (confirmed by the broker)")
    )


@app.command()
def reprocess(event_id: Annotated[str, typer.Argument(help="the event's id (events.id)")]) -> None:
    """Retry a failed event: reset it to received (attempts 0) and nudge the processor."""
    from sqlalchemy.exc import SQLAlchemyError

    from herald.reprocess import CannotReprocess, reprocess_from_settings
    from libs.common.runtime.errors import HeraldError

    try:
        typer.echo(asyncio.run(reprocess_from_settings(event_id)))
    except ValidationError as exc:
        _fail(explain("processor", exc))
    except CannotReprocess as exc:
        _fail(str(exc))
    except (SQLAlchemyError, HeraldError, OSError) as exc:  # database or broker unreachable
        _fail(f"not reprocessed: {type(exc).__name__}: {str(exc).splitlines()[0]}")


app.add_typer(dlq_app, name="dlq")  # herald dlq count|replay
app.add_typer(tenant_app, name="tenant")  # herald tenant add|list|disable|enable


@app.command("admin-user")
def admin_user(
    username: Annotated[str, typer.Argument(help="the admin's login name")],
    print_hash: Annotated[
        bool, typer.Option(help="only print the hash, for HERALD_ADMIN_USERS")
    ] = False,
    tenant: Annotated[
        list[str] | None,
        typer.Option(help="bind the account to this tenant (repeat for more); none: global"),
    ] = None,
) -> None:
    """Create an admin UI account (or change its password and tenants) in
    HERALD_DATABASE_URL; the password is asked for, never passed on the command line."""
    from herald.admin_users import run_admin_user

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    _fail_or_echo(run_admin_user(username, password, print_hash, tenant or None))


def _fail_or_echo(result: tuple[bool, str]) -> None:
    ok, text = result
    if not ok:
        _fail(text)
    typer.echo(text)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
