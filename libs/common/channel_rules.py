"""What a channel allows, in one place for the APIs, the admin, the processor and the digests
(DESIGN §6): which channels have digests, and which ones a ``low`` event may not interrupt.

The browser has no digest: a push only lights the inbox counter, so there is nothing to batch,
and the sender has no digest template for it — a digest there would never be delivered.
"""

from __future__ import annotations

from libs.common.channels import registry

BROWSER = "browser"
NO_DIGEST = registry().without_digest()  # the registry's ChannelSpec.digests
# Channels that interrupt a person (a mail, a phone buzzing): a ``low`` event reaches them
# only when the user chose instant there, otherwise through a digest or the inbox alone
# (ChannelSpec.intrusive: e-mail, Telegram, SMS and any plugin that says so).
INTRUSIVE = registry().intrusive()


def digest_refusal(channel: str) -> str | None:
    """Why ``channel`` may not have a digest (mode ``digest``, a schedule), or None."""
    if channel in NO_DIGEST:
        return (
            f"the {channel} channel has no digest: its notifications always arrive at once "
            "in the inbox; choose instant or off"
        )
    return None
