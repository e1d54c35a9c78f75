"""The SMS length budget (3GPP TS 23.038 segment sizes) and the gateway's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from services.sender.providers.sms import retry_after_s
from services.sender.providers.sms_text import fit, is_gsm, segments, units


def test_gsm_texts_count_septets_and_keep_a_gsm_ellipsis() -> None:
    assert is_gsm("Tender T-1001: deadline moved @ 10:00") and not is_gsm("Срок")
    assert units("a{b}") == 6  # braces are escaped: two septets each
    assert fit("a" * 160, 1) == "a" * 160  # exactly one segment
    cut = fit("a" * 161, 1)
    assert cut == "a" * 157 + "..." and units(cut) == 160 and is_gsm(cut)
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3


def test_ucs2_texts_count_code_units() -> None:
    text = "Срок сдвинут " * 30
    cut = fit(text, 3)
    assert units(cut) <= 3 * 67 and cut.endswith("…") and segments(cut) == 3
    assert fit("Привет", 1) == "Привет"
    assert units("😀") == 2  # a surrogate pair
    assert len(fit("ж" + "😀" * 40, 1)) < 40  # emoji cost two units each


def test_retry_after_seconds_or_http_date() -> None:
    assert retry_after_s("30") == 30.0 and retry_after_s(None) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    found = retry_after_s(later)
    assert found is not None and 80 < found <= 90
    assert retry_after_s("soon") is None
