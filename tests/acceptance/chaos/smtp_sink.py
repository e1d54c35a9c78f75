"""An SMTP sink that records every accepted transaction (run as its own process).

    python -m tests.acceptance.chaos.smtp_sink <port> <record.jsonl>

A line is written and fsynced *before* the 250 reply, so "the server accepted it" and "it
is in the record" are the same moment: the chaos report can count duplicates exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content)
        line = {
            "message_id": mail.get("Message-ID"),
            "to": list(envelope.rcpt_tos),
            "subject": mail.get("Subject"),
            "at": time.time(),
        }
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Recorder(path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
