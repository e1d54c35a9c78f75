"""Fail fast, with instructions, when the test servers are not reachable (never skip)."""

from __future__ import annotations

import asyncio
import sys

import aio_pika
import asyncpg

from tests.infra import HOW_TO_START, TEST_AMQP_URL, TEST_DATABASE_URL, raw_pg_dsn

TIMEOUT_S = 10


async def check() -> list[str]:
    problems = []
    try:
        conn = await asyncpg.connect(raw_pg_dsn(TEST_DATABASE_URL), timeout=TIMEOUT_S)
        await conn.close()
    except Exception as exc:
        problems.append(f"PostgreSQL unreachable: {exc!r}")
    try:
        amqp = await asyncio.wait_for(aio_pika.connect(TEST_AMQP_URL), TIMEOUT_S)
        await amqp.close()
    except Exception as exc:
        problems.append(f"RabbitMQ unreachable: {exc!r}")
    return problems


def main() -> None:
    problems = asyncio.run(check())
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(HOW_TO_START.format(db=TEST_DATABASE_URL, amqp=TEST_AMQP_URL), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
