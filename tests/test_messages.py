"""What orgtune posts is escaped: file names and model output can't ping a channel or fake a link."""

from __future__ import annotations

from bot.answer_messages import answer_blocks
from bot.messages import DocSummary, added, escape


def test_escape_disarms_broadcasts_mentions_and_links() -> None:
    text = escape("Hi <!channel> and <!here>, see <https://evil.example|click> @channel <@U123>")
    assert "<!" not in text and "<@" not in text and "<http" not in text
    assert "&lt;!channel&gt;" in text and "@\u200bchannel" in text


def test_file_names_are_escaped_in_replies() -> None:
    reply = added(DocSummary("<!everyone> notes.md", "markdown", None, 10, 1), 1)
    assert "<!everyone>" not in reply and "&lt;!everyone&gt; notes.md" in reply


def test_model_output_is_escaped_in_answers() -> None:
    ans = {
        "question": "q <!here>",
        "answer": "Sure <!channel> the answer is 27 @here",
        "sources": [],
        "adapter": "v1",
        "model": "smollm2",
    }
    text, blocks = answer_blocks(ans, 7, "U1", quote_question=True)
    rendered = text + str(blocks)
    assert "<!channel>" not in rendered and "<!here>" not in rendered and "@here" not in rendered
    assert blocks[-1]["elements"][0]["value"] == "7"


def test_a_quoted_answer_says_it_is_quoted() -> None:
    source = {"document": "benefits.md", "section": "Vacation", "quote": "27 days"}
    ans = {"question": "q", "answer": "27 days", "sources": [source], "adapter": None, "model": "smollm2"}
    quoted = str(answer_blocks({**ans, "grounding": "quoted"}, 1)[1])
    generated = str(answer_blocks({**ans, "grounding": "generated"}, 1)[1])
    assert "Quoted from: *benefits.md* — Vacation" in quoted and "Sources: *benefits.md*" in generated
