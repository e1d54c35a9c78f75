"""Taking events in (DESIGN §2, §3): the AMQP consumer and POST /v1/events, who may emit
what, decoding, storing, and what is published after the commit (docs/ingest.md)."""
