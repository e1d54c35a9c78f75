"""One small error hierarchy: the exception type decides ack, retry or dead-letter (DESIGN §11)."""

from __future__ import annotations


class HeraldError(Exception):
    """Base of every error Herald raises on purpose."""


class TransientError(HeraldError):
    """Worth retrying later: a database or broker hiccup, a timeout, a 4xx from SMTP."""


class PermanentError(HeraldError):
    """Retrying will not help: bad input, a bug, a refused address. Dead-letter and log."""


class ValidationFailed(PermanentError):
    """Input broke the contract; ``reason`` says how, precisely enough to fix the producer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
