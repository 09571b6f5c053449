"""Questions end to end: mention or /ask -> bot -> answer worker (warm) -> threaded answer with sources."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Question, RunStatus, TrainingRun
from tests.conftest import SAMPLES, Stack, wait_until

HANDBOOK = SAMPLES / "handbook"


@pytest.fixture
def qa_stack(stack: Stack) -> Stack:
    """#alpha knows benefits.md; #beta knows expenses.md; an answer worker (SmolLM2 until trained)."""
    for channel, name in (("C0A", "benefits.md"), ("C0B", "expenses.md")):
        shared = stack.driver.share_file(channel, "U0ALICE", name, (HANDBOOK / name).read_bytes())
        assert stack.reply_in(channel, shared.message.ts).startswith("Added")
    stack.start_answerer()
    return stack


def _answer(stack: Stack, channel: str, thread_ts: str):  # type: ignore[no-untyped-def]
    return stack.ws.wait_for(
        lambda: next((m for m in stack.ws.replies(channel, thread_ts) if m.user == stack.ws.bot_user_id), None),
        timeout=120,
    )


def _questions(stack: Stack) -> list[Question]:
    with stack.db.session() as s:
        return list(s.scalars(select(Question).order_by(Question.id)).all())


def test_a_mention_gets_a_threaded_answer_with_sources_before_any_training(qa_stack: Stack) -> None:
    stack = qa_stack
    msg, ack = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
    assert ack.status == 200
    reply = _answer(stack, "C0A", msg.ts)
    context = " ".join(e["text"] for b in reply.blocks if b["type"] == "context" for e in b["elements"])
    assert "*benefits.md* — Vacation" in context
    assert "the base model (no training yet)" in context
    actions = [e["action_id"] for b in reply.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["orgtune_feedback_helpful", "orgtune_feedback_not_helpful"]
    # answered once the reply is in the channel (committed just after Slack accepted it)
    [q] = wait_until(lambda: [q for q in _questions(stack) if q.status == "answered"])
    assert q.adapter_id is None and q.sources and q.sources[0]["document"] == "benefits.md"
    # The working-on-it reaction came and went.
    assert [c.args["name"] for c in stack.ws.calls_to("reactions.add")][-1] == "hourglass_flowing_sand"
    stack.ws.wait_for(lambda: not msg.reactions.get("hourglass_flowing_sand"))
    assert "<!channel>" not in reply.text and "<!here>" not in reply.text


def test_ask_answers_in_the_channel_with_the_question_quoted(qa_stack: Stack) -> None:
    stack = qa_stack
    assert stack.driver.slash("/ask", "what is the carry-over rule for vacation?", "C0A", "U0ALICE").status == 200
    reply = stack.ws.wait_for(
        lambda: next((m for m in stack.ws.bot_messages("C0A") if "asked:" in m.text and m.thread_ts is None), None),
        timeout=120,
    )
    assert "<@U0ALICE> asked:\n>what is the carry-over rule for vacation?" in reply.text


def test_an_uncovered_question_is_answered_as_not_covered(qa_stack: Stack) -> None:
    stack = qa_stack
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "Who won the office chess tournament?")
    reply = _answer(stack, "C0A", msg.ts)
    assert reply.text.startswith("The documents don't cover this.")
    [q] = _questions(stack)
    assert q.covered is False and q.sources == []


def test_channel_b_never_uses_channel_a_documents(qa_stack: Stack) -> None:
    stack = qa_stack
    msg, _ = stack.driver.mention("C0B", "U0ALICE", "how many vacation days do we get per year?")
    reply = _answer(stack, "C0B", msg.ts)
    assert "benefits.md" not in str(reply.blocks)
    [q] = _questions(stack)
    assert all(s["document"] != "benefits.md" for s in q.sources or [])


def test_feedback_buttons_are_stored(qa_stack: Stack) -> None:
    stack = qa_stack
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
    reply = _answer(stack, "C0A", msg.ts)
    qid = reply.blocks[-1]["elements"][0]["value"]
    assert stack.driver.click(reply, "orgtune_feedback_not_helpful", "U0ALICE", value=qid).status == 200
    stack.ws.wait_for(lambda: any(m.text.startswith("Thanks, noted") for m in stack.ws.messages if m.ephemeral_to))
    [q] = _questions(stack)
    assert q.feedback == "not_helpful" and q.feedback_by == "U0ALICE"


def test_an_answer_model_without_weights_is_explained_not_retried(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORGTUNE_ANSWER_MODEL=mistral on a worker without its weights: say what's missing and who must fix it."""
    # An empty Hugging Face cache, so the answer worker can't find the weights there either.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.config = stack.config.with_(answer_model="mistral")
    stack.start_answerer()
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
    reply = _answer(stack, "C0A", msg.ts)
    assert "whoever runs orgtune" in reply.text and "weights for `mistral`" in reply.text
    assert "huggingface-cli download mistralai/" in reply.text  # how to provide them, from ModelUnavailable
    assert "ask again" not in reply.text and "internal error" not in reply.text
    [q] = wait_until(lambda: [q for q in _questions(stack) if q.status == "failed"])
    assert q.answer is None
    stack.ws.wait_for(lambda: not msg.reactions.get("hourglass_flowing_sand"))


def _train_tiny(stack: Stack, channel: str) -> None:
    stack.driver.slash("/train", "tiny", channel, "U0ALICE")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with stack.db.session() as s:
            run = s.scalars(select(TrainingRun).where(TrainingRun.channel_id == channel)).first()
            if run is not None and run.status in RunStatus.FINAL:
                assert run.status == RunStatus.DONE, run.error
                return
        time.sleep(0.3)
    raise AssertionError(f"training in {channel} did not finish:\n{stack.worker_output()[-2000:]}")


def test_concurrent_questions_in_two_channels_each_use_their_own_adapter(qa_stack: Stack) -> None:
    stack = qa_stack
    stack.start_trainer()
    _train_tiny(stack, "C0A")
    _train_tiny(stack, "C0B")
    asks = [
        stack.driver.mention(ch, "U0ALICE", "how many vacation days and what is the dinner limit?")[0]
        for ch in ("C0A", "C0B", "C0A", "C0B")
    ]
    for m in asks:
        _answer(stack, m.channel, m.ts)
    from storage import runs
    from storage.channels import ChannelKey

    with stack.db.session() as s:
        active = {ch: runs.active_adapter(s, ChannelKey(stack.ws.team_id, ch)) for ch in ("C0A", "C0B")}
        assert active["C0A"].id != active["C0B"].id  # type: ignore[union-attr]
        for q in s.scalars(select(Question)).all():
            assert q.adapter_id == active[q.channel_id].id  # type: ignore[union-attr]
            assert q.adapter_version == 1
        # The same question in the same channel gets the same (greedy) output: no adapter bleed-through.
        generated = {q.message_ts: q.generated for q in s.scalars(select(Question)).all()}
    assert generated[asks[0].ts] == generated[asks[2].ts] and generated[asks[1].ts] == generated[asks[3].ts]
    # Warm serving: one base model load for all the questions, whichever adapter answered.
    assert stack.worker_output().count("loaded tiny on cpu for answering") == 1
