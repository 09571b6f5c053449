"""Socket Mode end to end: envelopes on the bot's WebSocket link instead of signed HTTP.

The bot in ``socket_stack`` has no signing secret at all: Slack signs nothing in
Socket Mode, the link opened with the app-level token is the authentication.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bot.answer_messages import HELPFUL, answer_blocks
from orgtune.config import Config, ConfigError
from slackemu import SlackDriver, SlackEmulator
from storage.db import Database
from storage.models import Question
from tests.conftest import SAMPLES, Stack

HANDBOOK = SAMPLES / "handbook"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _responses(stack: Stack) -> list[Any]:
    return [m for m in stack.ws.messages if m.via == "response_url"]


def test_a_shared_file_is_added_over_socket_mode_without_a_signing_secret(socket_stack: Stack) -> None:
    assert socket_stack.config.slack_signing_secret is None
    question = socket_stack.driver.say("C0A", "U0ALICE", "What are our benefits?")
    shared = socket_stack.driver.share_file(
        "C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes(), thread_ts=question.ts
    )
    assert [(a.kind, a.status, a.body) for a in shared.acks] == [
        ("event:message", 200, b""),
        ("event:file_shared", 200, b""),
    ]
    reply = socket_stack.reply_in("C0A", question.ts)
    assert reply.startswith("Added *benefits.md* — ") and "This channel now knows 1 document." in reply

    # Slack's retry of an envelope (retry_attempt 1, same event id) changes nothing.
    assert socket_stack.driver.retry(shared).status == 200
    deliveries = socket_stack.emulator.socket_mode.deliveries
    assert [d.type for d in deliveries] == ["events_api"] * 3 and all(d.acked for d in deliveries)
    socket_stack.ws.wait_for(lambda: not shared.message.reactions.get("eyes"))
    assert len([m for m in socket_stack.ws.bot_messages("C0A") if m.thread_ts == question.ts]) == 1


def test_a_slash_command_is_answered_through_its_response_url(socket_stack: Stack) -> None:
    ack = socket_stack.driver.slash("/orgtune", "docs", "C0A", "U0ALICE")
    assert (ack.status, ack.body) == (200, b"")  # acked at once; the answer follows through response_url
    [response] = socket_stack.ws.wait_for(lambda: _responses(socket_stack) or None, timeout=15)
    assert response.text.startswith("This channel doesn't know any documents yet.")
    assert response.ephemeral_to == "U0ALICE"
    [delivery] = socket_stack.emulator.socket_mode.deliveries
    assert delivery.type == "slash_commands"


def test_a_button_click_arrives_as_an_interactive_envelope(socket_stack: Stack) -> None:
    with socket_stack.db.session() as session:
        row = Question(team_id=socket_stack.ws.team_id, channel_id="C0A", user="U0ALICE", question="Vacation?")
        session.add(row)
        session.flush()
        question_id = row.id
    ans = {"answer": "25 days.", "question": "Vacation?", "sources": [], "adapter": None, "model": "smollm2"}
    text, blocks = answer_blocks(ans, question_id)
    client = WebClient(token=socket_stack.emulator.bot_token, base_url=socket_stack.emulator.api_url)
    posted = client.chat_postMessage(channel="C0A", text=text, blocks=blocks)
    message = socket_stack.ws.find_message("C0A", posted["ts"])

    ack = socket_stack.driver.click(message, HELPFUL, "U0ALICE", value=str(question_id))
    assert ack.status == 200 and ack.kind == "action:" + HELPFUL
    [thanks] = socket_stack.ws.wait_for(lambda: _responses(socket_stack) or None, timeout=15)
    assert thanks.text == "Thanks, noted."
    with socket_stack.db.session() as session:
        stored = session.get(Question, question_id)
        assert stored is not None and (stored.feedback, stored.feedback_by) == ("helpful", "U0ALICE")
    assert [d.type for d in socket_stack.emulator.socket_mode.deliveries] == ["interactive"]


def test_every_envelope_is_acked_within_three_seconds(socket_stack: Stack) -> None:
    for name in ("benefits.md", "expenses.md", "remote-work.pdf"):
        socket_stack.driver.share_file("C0A", "U0ALICE", name, (HANDBOOK / name).read_bytes())
    socket_stack.driver.slash("/orgtune", "help", "C0A", "U0ALICE")
    socket_stack.driver.mention("C0A", "U0ALICE", "hello")
    acks = socket_stack.driver.acks
    assert len(acks) == 8 and all(a.status == 200 for a in acks)
    assert max(a.seconds for a in acks) < 3.0
    assert not any(d.slow for d in socket_stack.emulator.socket_mode.deliveries)


def test_the_bot_reconnects_after_a_forced_disconnect(socket_stack: Stack) -> None:
    emulator = socket_stack.emulator
    assert emulator.socket_mode.force_disconnect(reason="refresh_requested")
    assert emulator.socket_mode.connections_opened == 2
    assert [c.ok for c in socket_stack.ws.calls_to("apps.connections.open")] == [True, True]

    shared = socket_stack.driver.share_file("C0A", "U0ALICE", "expenses.md", (HANDBOOK / "expenses.md").read_bytes())
    assert [a.status for a in shared.acks] == [200, 200]
    assert socket_stack.reply_in("C0A", shared.message.ts).startswith("Added *expenses.md* — ")
    socket_stack.ws.wait_for(lambda: emulator.socket_mode.open_connections == 1, timeout=10)  # the old link is gone


def test_apps_connections_open_takes_only_the_app_token(config: Config, db: Database) -> None:
    from bot.app import create_app
    from bot.server import SocketModeBot

    with SlackEmulator(bot_token="xoxb-right", app_token="xapp-right") as emulator:
        api = WebClient(base_url=emulator.api_url)
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("not_allowed_token_type", lambda: api.apps_connections_open(app_token="xoxb-right")),
            ("invalid_auth", lambda: api.apps_connections_open(app_token="xapp-wrong")),
            ("not_authed", lambda: api.api_call("apps.connections.open")),
            # and the other way round: the app token opens links, it can't act as the bot
            ("not_allowed_token_type", lambda: api.api_call("auth.test", headers=_bearer("xapp-right"))),
        ]
        for error, call in calls:
            with pytest.raises(SlackApiError) as refused:
                call()
            assert refused.value.response["error"] == error

        cfg = config.with_(slack_bot_token="xoxb-right", slack_app_token="xapp-wrong", slack_api_url=emulator.api_url)
        with pytest.raises(SlackApiError) as refused:
            SocketModeBot(create_app(cfg), "xapp-wrong").connect()
        assert refused.value.response["error"] == "invalid_auth"
        assert emulator.socket_mode.connections_opened == 0


def test_socket_mode_needs_no_signing_secret_but_http_does(config: Config, db: Database) -> None:
    from bot.app import create_app
    from bot.server import HttpServer

    with SlackEmulator() as emulator:
        base = config.with_(
            slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url, slack_signing_secret=None
        )
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            create_app(base)
        # Served over HTTP by mistake, the Socket Mode app still verifies signatures, with a key nobody
        # has: a request signed with the empty key (or any other) is refused.
        server = HttpServer(create_app(base.with_(slack_app_token=emulator.app_token))).start()
        try:
            driver = SlackDriver(emulator, server.url, "")
            ack = driver.post("event:message", b'{"type": "event_callback"}', "application/json")
            assert ack.status == 401
        finally:
            server.stop()


def test_the_emulator_speaks_slacks_socket_mode_protocol() -> None:
    with SlackEmulator() as emulator:
        sm = emulator.socket_mode
        url = WebClient(base_url=emulator.api_url).apps_connections_open(app_token=emulator.app_token)["url"]
        assert url.startswith(sm.url + "?ticket=")
        received: list[dict[str, Any]] = []
        with connect(url) as link:
            hello = json.loads(link.recv(timeout=5))
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": "A0ORGTUNE"} and "debug_info" in hello

            def app() -> None:  # acks the first envelope with a payload, never the second
                received.append(json.loads(link.recv(timeout=5)))
                link.send(json.dumps({"envelope_id": received[0]["envelope_id"], "payload": {"text": "hi"}}))
                received.append(json.loads(link.recv(timeout=5)))

            thread = threading.Thread(target=app)
            thread.start()
            answered = sm.deliver("slash_commands", {"command": "/orgtune"}, accepts_response_payload=True)
            unanswered = sm.deliver("events_api", {"type": "event_callback"}, timeout=0.5)
            thread.join(timeout=5)
            assert answered.acked and answered.payload == {"text": "hi"} and not answered.slow
            assert not unanswered.acked and unanswered.slow
            assert set(received[0]) == {
                "envelope_id",
                "type",
                "payload",
                "accepts_response_payload",
                "retry_attempt",
                "retry_reason",
            }
            assert received[0]["type"] == "slash_commands" and received[0]["accepts_response_payload"] is True
            assert received[1]["type"] == "events_api" and received[1]["retry_attempt"] == 0

            # A refresh: the link is told to go, and closed once the wait for a new one ends.
            assert not sm.force_disconnect(timeout=0.5)
            assert json.loads(link.recv(timeout=5)) == {
                "type": "disconnect",
                "reason": "refresh_requested",
                "debug_info": {"host": "applink-emulated"},
            }
            with pytest.raises(ConnectionClosed):
                link.recv(timeout=5)
        for used_or_made_up in (url, sm.url + "?ticket=made-up"):
            with pytest.raises(InvalidStatus), connect(used_or_made_up):
                pass
        with pytest.raises(ConnectionError):  # nobody connected: the envelope can't be delivered
            sm.deliver("events_api", {}, timeout=0.2)


def test_the_demo_runs_its_stack_over_socket_mode(config: Config) -> None:
    """`orgtune demo --socket-mode`: the demo's sharing script, with the bot on a Socket Mode link."""
    from collections import Counter

    from orgtune.demo import ALICE, BOB, CHANNEL, CHANNEL_NAME, local_stack, play_sharing

    with local_stack(config, queues=("ingest",), socket_mode=True) as (cfg, driver):
        assert cfg.slack_signing_secret is None and cfg.slack_app_token and driver.transport == "socket_mode"
        ws = driver.ws
        ws.add_channel(CHANNEL, CHANNEL_NAME)
        ws.add_user(ALICE, "alice")
        ws.add_user(BOB, "bob")
        waiting = play_sharing(driver, lambda line: None)
        replies = Counter(waiting)
        ws.wait_for(
            lambda: all(
                sum(m.user == ws.bot_user_id for m in ws.replies(CHANNEL, ts)) >= n for ts, n in replies.items()
            ),
            timeout=180,
        )
        assert all(a.status == 200 and a.seconds < 3.0 for a in driver.acks)
        assert "Added *remote-work.pdf* — 2 pages" in ws.render(CHANNEL)
