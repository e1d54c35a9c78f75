"""One person's deliveries of one event (services/processor/channels.py, DESIGN §5 step 4,
§6 priority): preferences, priority, digests, duplicates; pure, no database."""

from __future__ import annotations

from libs.common.db.models import DeliveryStatus
from libs.common.schemas.envelope import Priority
from services.processor.catalog import TypeInfo
from services.processor.channels import Claim, Prefs, Terms, plan_person
from services.processor.directory import Entry

PENDING, DIGEST, SKIPPED = DeliveryStatus.PENDING, DeliveryStatus.DIGEST, DeliveryStatus.SKIPPED
ANNE = Entry("u-1", email="anne@example.test", telegram_chat_id="42")


def etype(critical: bool = False, digestible: bool = True) -> TypeInfo:
    return TypeInfo(
        key="tender.changed", critical=critical, digestible=digestible,
        default_channels=("email", "browser"), default_locale="en", notify_actor=False,
        enabled=True,
    )  # fmt: skip


def plan(
    prefs: Prefs,
    priority: Priority = Priority.NORMAL,
    person: Entry | None = ANNE,
    digests: frozenset[str] = frozenset(),
    available: frozenset[str] | None = None,
) -> dict[str, tuple[DeliveryStatus, str]]:
    terms = Terms("tenders", etype(), priority, prefs, digests=digests, available=available)
    decided = plan_person([Claim("u-1", "direct:assignee")], terms, person)
    return {p.channel: (p.status, p.reason) for p in decided}


def test_the_types_default_channels_go_out_now() -> None:
    assert plan({}) == {
        "email": (PENDING, "direct:assignee"),
        "browser": (PENDING, "direct:assignee"),
    }


def test_the_modules_own_setting_beats_the_persons_star_setting() -> None:
    got = plan({("*", "email"): "off", ("tenders", "email"): "digest"})
    assert got["email"][0] is DIGEST
    assert plan({("*", "email"): "off"})["email"] == (SKIPPED, "email is off for tenders")


def test_a_critical_event_is_instant_whatever_the_preferences() -> None:
    got = plan({("tenders", "email"): "off"}, Priority.CRITICAL)
    assert got["email"][0] is PENDING
    assert got["email"][1].endswith("critical: instant although email is off for tenders")


def test_a_low_event_waits_for_a_digest_or_stays_in_the_inbox() -> None:
    with_digest = plan({}, Priority.LOW, digests=frozenset({"email"}))
    assert with_digest["email"][0] is DIGEST
    assert with_digest["browser"][0] is PENDING  # the browser does not interrupt
    without = plan({}, Priority.LOW)
    assert without["email"][0] is SKIPPED and "inbox only" in without["email"][1]
    chosen = plan({("tenders", "email"): "instant"}, Priority.LOW)
    assert chosen["email"][0] is PENDING


def test_a_second_ask_for_a_channel_is_recorded_as_a_duplicate() -> None:
    claims = (Claim("u-1", "direct:assignee"), Claim("u-1", "subscription:12", ("email",)))
    decided = plan_person(claims, Terms("tenders", etype(), Priority.NORMAL, {}), ANNE)
    assert [(p.channel, p.status) for p in decided] == [
        ("email", PENDING),
        ("browser", PENDING),
        ("email", SKIPPED),
    ]
    assert decided[2].reason == (
        "duplicate: email already planned for direct:assignee; also asked by subscription:12"
    )


def test_a_channel_without_an_address_or_a_provider_is_skipped() -> None:
    no_email = plan({}, person=Entry("u-1"))
    assert no_email["email"][0] is SKIPPED
    no_provider = plan({}, available=frozenset({"browser"}))
    assert no_provider["email"] == (SKIPPED, "no provider for channel email")
