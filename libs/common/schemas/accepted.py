"""``herald.accepted``: the events ingest stored (validated, authorized, not a repeat), published
after the commit, for the websocket gateway's live feeds (DESIGN §8).

Topic exchange, routing key ``<source>.<type>``; one message per stored batch and routing key
(a publish per event would cost ingest ~40 % of its CPU). Feeds never read raw
``herald.events``: that carries what ingest rejects or de-duplicates.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


class AcceptedEvent(BaseModel):
    event_id: str = Field(description="Herald's id of the stored event (events.id)")
    tenant: str = Field(description="the tenant ingest stored it under")
    # set when published, just after the commit (≥ events.received_at by the batch's time)
    at: AwareDatetime = Field(description="the feed cursor's time")
    body: dict[str, Any] = Field(description="the stored body (the envelope as sent)")


class AcceptedEvents(BaseModel):
    events: list[AcceptedEvent]

