"""orgtune against a Slack as strict as the real one: Block Kit limits, rate limits, server
errors, membership, threads and escaped text. Each test failed on the code before the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.answer_messages import answer_blocks
from bot.messages import escape, truncate
from bot.slack_text import plain_text, strip_bot_mention
from jobs.runtime import Runtime, make_slack_client
from jobs.train import finish_message
from orgtune.config import Config
from slackemu import SlackEmulator
from slackemu.blocks import validate_message
from storage import runs
from storage.artifacts import Artifacts
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import Question, RunStatus, TrainingRun
from tests.conftest import SAMPLES, Stack, wait_until

KEY = ChannelKey("T0ORGTUNE", "C0A")


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        emu.workspace.add_channel("C0A", "alpha")
        emu.workspace.add_user("U0ALICE", "alice")
        yield emu


# --- Block Kit ------------------------------------------------------------------------


def _section(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def test_the_emulator_refuses_what_slack_refuses() -> None:
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "ok"}, "value": "1"}
    assert validate_message("x", _section("a" * 3000)) is None
    assert validate_message("x", _section("a" * 3001))["error"] == "invalid_blocks"  # type: ignore[index]
    header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    assert validate_message("x", header)["error"] == "invalid_blocks"  # type: ignore[index]
    long_button = [{"type": "actions", "elements": [{**button, "text": {"type": "plain_text", "text": "b" * 76}}]}]
    assert validate_message("x", long_button)["error"] == "invalid_blocks"  # type: ignore[index]
    big_value = [{"type": "actions", "elements": [{**button, "value": "v" * 2001}]}]
    assert validate_message("x", big_value)["error"] == "invalid_blocks"  # type: ignore[index]
    assert validate_message("x", _section("a") * 51)["error"] == "invalid_blocks"  # type: ignore[index]
    assert validate_message("t" * 40_001, None) == {"ok": False, "error": "msg_too_long"}


def test_a_long_answer_full_of_markup_is_posted_not_lost(emulator: SlackEmulator) -> None:
    """Escaping after truncating once made a 6,303-character section: Slack refused the whole answer."""
    answer = "Use <b> & <i> tags. " * 350  # 7,000 characters, each < and & grows when escaped
    ans = {"answer": answer, "question": "what tags & why <here>?", "sources": [], "adapter": None, "model": "tiny"}
    text, blocks = answer_blocks(ans, 7, "U0ALICE", quote_question=True)
    assert validate_message(text, blocks) is None
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) >= 4 and all(len(s) <= 3000 for s in sections)
    assert "what tags &amp; why &lt;here&gt;?" in sections[0]  # quoted question escaped exactly once
    assert not any(s.rstrip("…").endswith(("&", "&am", "&l", "&lt")) for s in sections)  # no entity cut in half
    client = make_slack_client(Config(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url))
    assert client.chat_postMessage(channel="C0A", text=text, blocks=blocks)["ok"]


def test_truncate_never_splits_an_entity() -> None:
    assert truncate(escape("a" * 8 + "&b"), 12) == "aaaaaaaa…"
    assert truncate("short", 12) == "short"


# --- Rate limits and server errors ------------------------------------------------------


def _client(emulator: SlackEmulator) -> WebClient:
    return make_slack_client(Config(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url))


def test_slack_answers_429_with_retry_after_and_orgtune_waits(emulator: SlackEmulator) -> None:
    emulator.limits.exhaust("chat.postMessage", "C0A")
    plain = WebClient(token=emulator.bot_token, base_url=emulator.api_url)  # slack_sdk's defaults: no 429 retry
    with pytest.raises(SlackApiError) as limited:
        plain.chat_postMessage(channel="C0A", text="too soon")
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"][0]) >= 1

    emulator.limits.exhaust("chat.postMessage", "C0A")
    assert _client(emulator).chat_postMessage(channel="C0A", text="after waiting")["ok"]
    assert [m.text for m in emulator.workspace.bot_messages("C0A")] == ["after waiting"]


def test_server_errors_and_resets_are_retried_and_nothing_is_posted_twice(emulator: SlackEmulator) -> None:
    emulator.faults.fail("chat.postMessage", "503")
    emulator.faults.fail("chat.postMessage", "reset")
    emulator.faults.fail("chat.postMessage", "500")
    assert _client(emulator).chat_postMessage(channel="C0A", text="once")["ok"]
    assert [m.text for m in emulator.workspace.bot_messages("C0A")] == ["once"]
    assert [kind for _, kind in emulator.faults.injected] == ["503", "reset", "500"]


# --- Results of a run: the parent thread, each post once ----------------------------------


def _finished_run(db: Database, client: WebClient, thread_ts: str | None) -> int:
    progress = client.chat_postMessage(channel="C0A", thread_ts=thread_ts, text="*Training `tiny`*")["ts"]
    score = {"loss": 2.0, "correct": 1, "total": 4, "accuracy": 0.25}
    metrics = {
        "version": 1,
        "before": score,
        "after": {**score, "loss": 1.0, "correct": 3, "accuracy": 0.75},
        "losses": [2.0, 1.5, 1.0],
        "seconds": 60.0,
        "tokens_per_s": 100.0,
        "device": "cpu",
        "adapter_bytes": 1000,
        "trainable_params": 10,
    }
    with db.session() as session:
        run = runs.create_run(
            session, KEY, model="tiny", base_model="tiny", requested_by="U0ALICE", thread_ts=thread_ts
        )
        assert run is not None
        run.progress_ts, run.metrics = progress, metrics
        runs.set_status(run, RunStatus.DONE)
        session.flush()
        return run.id


def _runtime(config: Config, db: Database, emulator: SlackEmulator) -> Runtime:
    cfg = config.with_(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url)
    return Runtime(config=cfg, db=db, artifacts=Artifacts(cfg.artifacts_dir))


def test_results_of_a_run_started_in_a_thread_go_to_that_thread(
    config: Config, db: Database, emulator: SlackEmulator
) -> None:
    """``@orgtune train`` in a thread: the progress message is a reply, so results go under its parent."""
    rt = _runtime(config, db, emulator)
    question = rt.slack.chat_postMessage(channel="C0A", text="let's train")["ts"]
    run_id = _finished_run(db, rt.slack, thread_ts=question)
    assert finish_message(rt, run_id) == RunStatus.DONE
    replies = emulator.workspace.replies("C0A", question)
    assert replies[0].text.startswith("*Training")  # the progress message is itself a reply
    assert any(m.text.startswith("*Results") for m in replies) and any(m.files for m in replies)


def test_a_failed_chart_upload_never_posts_the_results_twice(
    config: Config, db: Database, emulator: SlackEmulator
) -> None:
    rt = _runtime(config, db, emulator)
    run_id = _finished_run(db, rt.slack, thread_ts=None)
    emulator.faults.fail("files.getUploadURLExternal", "503", times=10)  # past every retry
    with pytest.raises(SlackApiError):
        finish_message(rt, run_id)
    emulator.faults.planned.clear()
    assert finish_message(rt, run_id) == RunStatus.DONE  # RQ's failure hook or a rerun finishes it
    assert finish_message(rt, run_id) == RunStatus.DONE  # and a third time changes nothing
    results = [m for m in emulator.workspace.bot_messages("C0A") if m.text.startswith("*Results")]
    charts = [m for m in emulator.workspace.bot_messages("C0A") if m.files]
    assert len(results) == 1 and len(charts) == 1
    with db.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None and run.notified_at is not None and run.results_ts == results[0].ts


# --- Incoming text ----------------------------------------------------------------------


def test_incoming_text_is_unescaped_once_and_mentions_resolved() -> None:
    sent = "<@U0BOT> what's the R&amp;D budget for &lt;team&gt;, <@U0BOB> and <#C0A|alpha>? <https://x.io|docs>"
    names = {"U0BOB": "bob"}
    text = plain_text(strip_bot_mention(sent, "U0BOT"), names.get)
    assert text == "what's the R&D budget for <team>, @bob and #alpha? docs"
    assert plain_text("<!here> &amp;lt;") == "@here &lt;"  # one level of escaping only


def test_questions_are_stored_as_people_typed_them(stack: Stack) -> None:
    stack.ws.add_user("U0BOB", "bob")
    stack.driver.mention("C0A", "U0ALICE", "what's the R&D budget for <team> and @bob?")
    stack.driver.slash("/ask", "is Q&A <open> to all?", "C0A", "U0ALICE")

    def asked() -> list[str]:
        with stack.db.session() as s:
            return [q.question for q in s.scalars(select(Question).order_by(Question.id))]

    assert sorted(wait_until(lambda: len(asked()) == 2 and asked())) == [
        "is Q&A <open> to all?",
        "what's the R&D budget for <team> and @bob?",
    ]


# --- Channels the bot isn't in ----------------------------------------------------------


def test_the_emulator_answers_not_in_channel_like_slack(emulator: SlackEmulator) -> None:
    emulator.workspace.add_channel("C0PUB", "public", bot_member=False)
    emulator.workspace.add_channel("G0PRIV", "private", private=True, bot_member=False)
    client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    for channel, error in (
        ("C0PUB", "not_in_channel"),
        ("G0PRIV", "channel_not_found"),
        ("C0NONE", "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=channel, text="hi")
        assert refused.value.response["error"] == error
    assert client.conversations_info(channel="C0PUB")["channel"]["is_member"] is False


@pytest.mark.parametrize("private", [False, True])
def test_commands_from_a_channel_without_the_bot_say_how_to_invite_it(stack: Stack, private: bool) -> None:
    channel = "G0OUT" if private else "C0OUT"
    stack.ws.add_channel(channel, "outside", private=private, bot_member=False)
    for command, text in (("/ask", "how many vacation days?"), ("/train", "tiny")):
        assert stack.driver.slash(command, text, channel, "U0ALICE").status == 200
        reply = stack.ws.wait_for(
            lambda c=command: [m for m in stack.ws.messages if m.ephemeral_to and f"`{c}` can't post" in m.text]
        )
        assert "/invite @orgtune" in reply[0].text
    with stack.db.session() as s:
        assert not s.scalars(select(Question)).all() and not s.scalars(select(TrainingRun)).all()


# --- Transient failures while ingesting ------------------------------------------------------


def test_a_file_survives_rate_limits_and_server_errors(stack: Stack) -> None:
    stack.emulator.limits.exhaust("reactions.add")
    stack.emulator.faults.fail("files.info", "503")
    stack.emulator.faults.fail("chat.postMessage", "reset")
    shared = stack.driver.share_file(
        "C0A", "U0ALICE", "benefits.md", (SAMPLES / "handbook" / "benefits.md").read_bytes()
    )
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added *benefits.md*")
    replies = [m for m in stack.ws.replies("C0A", shared.message.ts) if m.user == stack.ws.bot_user_id]
    assert len(replies) == 1


def test_a_file_that_failed_on_our_side_can_be_shared_again(stack: Stack) -> None:
    stack.emulator.faults.fail("files.info", "503", times=20)  # Slack down past every retry
    data = (SAMPLES / "handbook" / "benefits.md").read_bytes()
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", data)
    assert "went wrong on my side" in stack.reply_in("C0A", shared.message.ts, timeout=120)
    stack.emulator.faults.planned.clear()
    wait_until(lambda: _notified(stack))  # the failure is recorded just after its reply: a person re-shares later
    again = stack.driver.reshare(shared, "U0ALICE", "trying again")
    assert stack.reply_in("C0A", again.message.ts).startswith("Added *benefits.md*")


def _notified(stack: Stack) -> bool:
    from storage.models import Document

    with stack.db.session() as s:
        return all(d.notified_at is not None for d in s.scalars(select(Document)))
