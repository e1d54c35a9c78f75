"""Create the producers' RabbitMQ users with least privilege (DESIGN §3.1, docs/security.md).

Run once by compose (`broker-users`) after RabbitMQ is up, through its management HTTP API:
each user in ``BROKER_PRODUCERS`` (JSON ``{"<user>": "<password>"}``) may write to
``herald.events`` only — nothing to configure, nothing to read, not the default exchange — and
gets no tags (``impersonator`` would let it set any ``user_id``). Idempotent: PUT replaces.
Map the same users in ``HERALD_AMQP_PRODUCERS``.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
import urllib.request

TIMEOUT_S = 10
PRODUCER_PERMISSIONS = {"configure": "^$", "write": r"^herald\.events$", "read": "^$"}


def _put(path: str, body: dict[str, str]) -> None:
    admin = f"{os.environ['RABBITMQ_USER']}:{os.environ['RABBITMQ_PASSWORD']}"
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own setting
        os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://rabbitmq:15672") + "/api/" + path,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={
            "Authorization": "Basic " + base64.b64encode(admin.encode()).decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S):  # noqa: S310
        pass


def main() -> None:
    vhost = urllib.parse.quote(os.environ.get("RABBITMQ_VHOST", "/"), safe="")
    for user, password in json.loads(os.environ["BROKER_PRODUCERS"]).items():
        name = urllib.parse.quote(user, safe="")
        _put(f"users/{name}", {"password": password, "tags": ""})
        _put(f"permissions/{vhost}/{name}", PRODUCER_PERMISSIONS)
        print(f"producer {user!r}: may write to herald.events only", flush=True)


if __name__ == "__main__":
    main()
