"""What happened to a claimed delivery, as plain values (services/sender/outcome.py): backoff,
retry or give up, deferral; writing them down is tested against PostgreSQL elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.common.db.models import utcnow
from services.sender.claim import Claimed
from services.sender.outcome import (
    BACKOFF_CAP_S,
    ERROR_MAX_CHARS,
    REASON_MAX_CHARS,
    backoff_s,
    deferred,
    denied,
    retry,
    unreachable,
)


def claimed(attempts: int = 1, telegram_chat_id: str | None = None) -> Claimed:
    return Claimed(
        id=7, attempts=attempts, tenant="acme", user_id="u-1", source="tenders",
        channel="email", subject="s", body="b", body_html=None, notification_id=3,
        telegram_chat_id=telegram_chat_id,
    )  # fmt: skip


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 5.0), (2, 10.0), (3, 20.0), (30, 3600.0)])
def test_backoff_doubles_with_jitter_in_the_upper_half_up_to_an_hour(
    attempt: int, ceiling: float
) -> None:
    for _ in range(50):
        assert ceiling / 2 <= backoff_s(attempt) <= ceiling <= BACKOFF_CAP_S


def test_the_peers_retry_after_wins() -> None:
    assert backoff_s(9, retry_after_s=2.5) == 2.5


def test_a_retry_goes_back_to_pending_after_its_backoff() -> None:
    before = utcnow()
    outcome = retry(claimed(attempts=2), "421 try later", max_attempts=5)
    assert (outcome.kind, outcome.attempt, outcome.error) == ("retry", 2, "421 try later")
    assert outcome.next_attempt_at is not None
    assert before + timedelta(seconds=5) <= outcome.next_attempt_at
    assert outcome.next_attempt_at <= utcnow() + timedelta(seconds=10)


def test_the_last_attempt_fails_instead_of_retrying() -> None:
    outcome = retry(claimed(attempts=5), "421 try later", max_attempts=5)
    assert outcome.kind == "failed"
    assert outcome.error == "attempts exhausted (5): 421 try later"
    assert outcome.next_attempt_at is None


def test_errors_and_reasons_are_cut_to_their_columns() -> None:
    assert len(retry(claimed(), "x" * 5000, max_attempts=5).error or "") == ERROR_MAX_CHARS
    assert len(denied(claimed(), "y" * 500).error or "") == REASON_MAX_CHARS


def test_a_deferral_is_pending_later_with_the_reason() -> None:
    outcome = deferred(claimed(attempts=3), 30.0, "mediator unavailable")
    assert (outcome.kind, outcome.attempt, outcome.error) == ("deferred", 3, "mediator unavailable")
    assert outcome.next_attempt_at is not None
    assert outcome.next_attempt_at >= utcnow() + timedelta(seconds=29)


def test_an_unreachable_telegram_chat_is_unlinked_with_the_failure() -> None:
    outcome = unreachable(claimed(telegram_chat_id="42"), "chat not found")
    assert (outcome.kind, outcome.forget_chat) == ("failed", ("acme", "u-1", "42"))
    assert unreachable(claimed(), "no chat").forget_chat is None
