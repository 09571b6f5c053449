"""Is orgtune in the channel? Slash commands arrive from channels it isn't a member of.

Slack delivers ``/train`` and ``/ask`` from any channel, but the bot can post only
where it was invited (``not_in_channel`` in a public channel, ``channel_not_found``
in a private one). Commands that lead to channel messages check first and tell
the person, privately through the command's response_url, how to invite it.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

NOT_A_MEMBER_ERRORS = frozenset({"not_in_channel", "channel_not_found"})


def bot_is_member(client: WebClient, channel_id: str) -> bool:
    """conversations.info's ``is_member`` (channels:read / groups:read); a private channel the
    bot isn't in is invisible to it (``channel_not_found``)."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        if is_not_a_member(exc):
            return False
        raise
    return bool(channel.get("is_member") or channel.get("is_im"))


def is_not_a_member(exc: SlackApiError) -> bool:
    """A Web API error meaning the bot can't post in that conversation."""
    return exc.response is not None and exc.response.get("error") in NOT_A_MEMBER_ERRORS
