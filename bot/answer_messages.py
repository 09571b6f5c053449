"""How answers look in Slack: the answer, its sources, which version answered, feedback buttons."""

from __future__ import annotations

from typing import Any

from bot.messages import escape, split_text, truncate
from orgtune import defaults

HELPFUL, NOT_HELPFUL = "orgtune_feedback_helpful", "orgtune_feedback_not_helpful"


def answer_blocks(
    ans: dict[str, Any], question_id: int, asked_by: str | None = None, quote_question: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks). Model output is escaped: it can never @channel anyone."""
    body = escape(ans["answer"])  # escaped first, then fitted: escaping can quadruple a length
    if quote_question:
        who = f"<@{asked_by}> asked" if asked_by else "Question"
        asked = truncate(escape(ans["question"]), defaults.MAX_QUOTED_QUESTION_CHARS).replace("\n", "\n>")
        body = f"{who}:\n>{asked}\n\n{body}"
    parts = split_text(body, defaults.SLACK_SECTION_CHARS, defaults.MAX_ANSWER_SECTIONS)
    body = "\n".join(parts)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in parts]
    context = [
        truncate(sources_line(ans["sources"]), defaults.SLACK_SECTION_CHARS // 2)
        if ans["sources"]
        else "No source in this channel's documents covers it."
    ]
    if ans.get("grounding") == "quoted":  # say so: the model's own answer wasn't backed by the documents
        context[0] = context[0].replace("Sources:", "Quoted from:", 1)
    context.append(f"answered by {ans['adapter'] or 'the base model (no training yet)'} · `{ans['model']}`")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    blocks.append(
        {
            "type": "actions",
            "block_id": f"feedback-{question_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": HELPFUL,
                    "value": str(question_id),
                    "text": {"type": "plain_text", "text": ":+1: Helpful", "emoji": True},
                },
                {
                    "type": "button",
                    "action_id": NOT_HELPFUL,
                    "value": str(question_id),
                    "text": {"type": "plain_text", "text": ":-1: Not helpful", "emoji": True},
                },
            ],
        }
    )
    text = body + "\n" + " · ".join(context)
    return text, blocks


def sources_line(sources: list[dict[str, Any]]) -> str:
    return "Sources: " + "; ".join(f"*{escape(s['document'])}* — {escape(s['section'])}" for s in sources)
