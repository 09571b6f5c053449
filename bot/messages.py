"""Every text orgtune posts to Slack, in one place, safely escaped.

User-controlled strings (file names, model output) go through :func:`escape`,
which neutralises Slack's control sequences: ``<!channel>``-style broadcasts,
``<@U123>`` mentions and links are shown as text instead of acted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orgtune import defaults


def escape(text: str) -> str:
    """Escape &, <, > as Slack requires; this also disarms <!channel>/<!here>/<@U..>."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Bare words Slack would still turn into broadcasts in some clients.
    for word in ("@channel", "@here", "@everyone"):
        text = text.replace(word, word.replace("@", "@\u200b"))
    return text


def truncate(text: str, limit: int = defaults.MAX_MESSAGE_CHARS) -> str:
    """Cut already-escaped mrkdwn to ``limit`` characters (… included) without splitting an
    entity such as ``&amp;`` or a ``<…>`` token. Escape first, then cut: escaping after
    cutting can grow the text past any limit (each ``<`` becomes four characters)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for opener, closer in (("&", ";"), ("<", ">")):
        at = cut.rfind(opener)
        if at != -1 and closer not in cut[at:]:
            cut = cut[:at]
    return cut.rstrip() + "…"


def split_text(text: str, limit: int = defaults.SLACK_SECTION_CHARS, parts: int = 1) -> list[str]:
    """Escaped mrkdwn in at most ``parts`` pieces of at most ``limit`` characters, broken at a
    paragraph, line or word where possible; what still doesn't fit is cut with "…"."""
    pieces: list[str] = []
    while len(text) > limit and len(pieces) < parts - 1:
        window = truncate(text, limit + 1)[:-1]  # never ends inside an entity or a <…> token
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else len(window)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    pieces.append(truncate(text, limit))
    return [p for p in pieces if p]


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def channel_knows(n: int) -> str:
    return f"This channel now knows {plural(n, 'document')}."


@dataclass(frozen=True)
class DocSummary:
    name: str
    kind: str | None
    pages: int | None
    words: int
    sections: int
    uploader: str | None = None


def size_phrase(doc: DocSummary) -> str:
    parts = []
    if doc.pages:
        parts.append(plural(doc.pages, "page"))
    parts.append(plural(doc.words, "word"))
    parts.append(plural(doc.sections, "section"))
    return ", ".join(parts)


def added(doc: DocSummary, known: int) -> str:
    return f"Added *{escape(doc.name)}* — {size_phrase(doc)}. {channel_knows(known)}"


def duplicate(name: str, original: str, known: int) -> str:
    return (
        f"*{escape(name)}* has the same content as *{escape(original)}*, which this channel already knows, "
        f"so nothing new was added. {channel_knows(known)}"
    )


def rejected(explanation: str) -> str:
    """``explanation`` names the file, says what was wrong and what to do."""
    return f":warning: Not added. {escape(explanation)}"


def internal_error(name: str, what: str) -> str:
    return (
        f":x: Something went wrong on my side while adding *{escape(name)}* ({escape(what)}). "
        "Nothing was stored; please share the file again. If it keeps happening, tell whoever runs orgtune."
    )


def doc_list(docs: Sequence[DocSummary], pending: int = 0) -> str:
    if not docs:
        text = "This channel doesn't know any documents yet. Share a PDF, DOCX, Markdown, text or HTML file here."
    else:
        shown = docs[: defaults.MAX_LISTED_DOCUMENTS]
        lines = [f"*{plural(len(docs), 'document')} in this channel:*"]
        lines += [f"• *{escape(d.name)}* — {size_phrase(d)}" for d in shown]
        if len(docs) > len(shown):
            lines.append(f"…and {len(docs) - len(shown):,} more.")
        text = "\n".join(lines)
    if pending:
        text += f"\n_{plural(pending, 'file')} still being processed._"
    return truncate(text)


def forgot(name: str, known: int) -> str:
    return f"Forgot *{escape(name)}*. {channel_knows(known)}"


def forget_no_match(name: str) -> str:
    return f"No document called *{escape(name)}* in this channel. `/orgtune docs` lists them."


def forget_ambiguous(name: str, names: Sequence[str]) -> str:
    listed = ", ".join(f"*{escape(n)}*" for n in names[:10])
    return f"*{escape(name)}* matches several documents: {listed}. Give the full name."


HELP = """*orgtune* learns this channel's documents and answers questions about them.

*Share knowledge* — upload a PDF, DOCX, Markdown, plain-text or HTML file in this channel or a thread. \
I reply in the thread with what I learned. Each channel is its own knowledge space: nothing crosses channels.

*Train* — `/train smollm2` (or `qwen`, `mistral`) turns this channel's documents into its own assistant. \
I post the plan, update one message with progress (with a Cancel button), then post the results. \
In a thread, say `@orgtune train smollm2`.

*Ask* — `@orgtune how many vacation days do we get?` (answered in the thread) or `/ask ...` \
(answered in the channel). Answers come from this channel's documents, with their sources; \
when the documents don't say, I say so. Rate answers with the buttons under them.

*Commands*
• `/orgtune docs` — list the documents this channel knows
• `/orgtune forget <name>` — remove a document from this channel
• `/orgtune runs` — recent training runs and their results
• `/orgtune status` — documents, the active assistant version, and any run in progress
• `/orgtune cancel` — stop the channel's training run
• `/orgtune adapters` — the versions of this channel's assistant (v1, v2, ...) and which one answers
• `/orgtune use v<N>` — switch to (or roll back to) a version; answers use it at once
• `/orgtune export ollama|peft|merged [v<N>]` — write a version for use outside Slack (Ollama, PEFT, a merged model)
• `/orgtune help` — this message

Limits: files up to {max_mb} MB and {max_pages} pages; password-protected files can't be read."""


def not_in_channel(command: str) -> str:
    return (
        f"I'm not in this channel yet, so `{command}` can't post here. Invite me with `/invite @orgtune` "
        "(or add orgtune in the channel's settings → Integrations), then try again. Nothing was queued."
    )


def help_text() -> str:
    return HELP.format(max_mb=defaults.MAX_FILE_BYTES // (1024 * 1024), max_pages=defaults.MAX_PDF_PAGES)


def unknown_command(sub: str) -> str:
    return f"I don't know `/orgtune {escape(sub)}`.\n\n{help_text()}"


def plain(text: str) -> str:
    """Slack mrkdwn to terminal text: unescape, drop bold markers and leading emoji codes."""
    import re

    text = re.sub(r"^:[a-z_]+: ", "", text)
    text = text.replace("*", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u200b", "")
