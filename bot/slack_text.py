"""Incoming Slack text to what the person typed, once.

Slack delivers message and command text with ``&``, ``<`` and ``>`` escaped as
``&amp;``, ``&lt;``, ``&gt;``, and its own markup in angle brackets: user
mentions ``<@U123>`` (or ``<@U123|name>``), channels ``<#C123|name>``, special
mentions ``<!here>``, links ``<https://…|label>``. Listeners turn it into plain
text here, at the edge, so retrieval never sees "amp" and outgoing texts are
escaped exactly once (by ``bot.messages.escape``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MARKUP = re.compile(r"<([^<>]*)>")
_LEADING_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s,:]*")

UserName = Callable[[str], "str | None"]


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """Drop mentions of the bot itself (``@orgtune how …`` -> ``how …``)."""
    if not bot_user_id:
        return _LEADING_MENTION.sub("", text, count=1)
    return re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[\s,:]*", "", text).strip()


def plain_text(text: str, user_name: UserName | None = None) -> str:
    """Slack's markup resolved to readable text, then its three entities unescaped."""

    def resolve(match: re.Match[str]) -> str:
        inner = match[1]
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            name = label or (user_name(target[1:]) if user_name else None)
            return f"@{name}" if name else "@someone"
        if target.startswith("#"):
            return f"#{label}" if label else "#channel"
        if target.startswith("!"):
            special = target[1:].split("^", 1)[0]
            if special in ("here", "channel", "everyone"):
                return f"@{special}"
            return label or ""
        return label or target.removeprefix("mailto:")

    text = _MARKUP.sub(resolve, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
