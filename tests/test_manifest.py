"""slack-manifest.yml is the source of truth: it matches what the app listens to, and the
emulator refuses whatever it doesn't declare, as a real workspace would."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import listeners
from bot.messages import help_text
from bot.services import BotServices
from slackemu import NotDelivered, SlackDriver, SlackEmulator
from slackemu.manifest import DEFAULT_MANIFEST, Manifest, ManifestError
from tests.conftest import ROOT


class Recorder:
    """Stands in for Bolt's App at the ``register(app, services)`` seam and records every listener."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {"command": set(), "event": set(), "action": set(), "shortcut": set()}

    def _record(self, kind: str, key: Any) -> Any:
        assert isinstance(key, str), f"{kind} listeners must use fixed names the manifest can declare, not {key!r}"
        self.seen[kind].add(key)
        return lambda fn: fn

    def command(self, name: str) -> Any:
        return self._record("command", name)

    def event(self, name: str) -> Any:
        return self._record("event", name)

    def action(self, name: str) -> Any:
        return self._record("action", name)

    def shortcut(self, name: str) -> Any:
        return self._record("shortcut", name)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"listeners registered with app.{name}: teach this test and the manifest about it")


@pytest.fixture
def registered() -> dict[str, set[str]]:
    recorder = Recorder()
    listeners.register(cast(Any, recorder), cast(BotServices, object()))
    return recorder.seen


def test_the_manifest_declares_exactly_what_the_app_listens_to(registered: dict[str, set[str]]) -> None:
    manifest = Manifest.load()
    assert manifest.commands == registered["command"]
    # message.channels / message.groups subscribe the one "message" listener to each kind of conversation
    assert {e.split(".")[0] for e in manifest.bot_events} == registered["event"]
    assert manifest.shortcuts == registered["shortcut"]
    assert manifest.interactivity == bool(registered["action"]), "buttons need interactivity, and only they do"


def test_readme_help_and_manifest_name_the_same_commands() -> None:
    manifest = Manifest.load()
    readme = (ROOT / "README.md").read_text()
    for command in manifest.commands:
        assert f"`{command}" in help_text(), f"{command} is declared but /orgtune help doesn't mention it"
        assert f"`{command}" in readme, f"{command} is declared but the README doesn't mention it"
    connect = readme[readme.index("## Connecting a real Slack workspace") : readme.index("## Running in production")]
    for name in manifest.scopes | manifest.bot_events:
        assert f"`{name}`" in connect, f"the README's connect steps don't list {name} from the manifest"
    listed = set(re.findall(r"`([a-z_]+(?::[a-z_.]+|\.[a-z]+))`", connect)) - {"connections:write"}
    assert listed <= manifest.scopes | manifest.bot_events, f"README lists more than the manifest: {listed}"
    mentioned = set(re.findall(r"`(/[a-z]+)[ `]", help_text()))
    assert mentioned <= manifest.commands | {"/invite"}, f"help mentions undeclared commands: {mentioned}"


def test_a_manifest_event_needs_its_scope() -> None:
    data = {"settings": {"event_subscriptions": {"bot_events": ["app_mention"]}}, "oauth_config": {"scopes": {}}}
    with pytest.raises(ManifestError, match="app_mentions:read"):
        Manifest.from_dict(data, "test")
    assert Manifest.load(DEFAULT_MANIFEST).scopes >= {"app_mentions:read", "chat:write", "files:read", "commands"}


def test_slack_never_delivers_an_undeclared_command_event_or_click() -> None:
    narrow = dataclasses.replace(
        Manifest.load(), commands=frozenset({"/orgtune"}), bot_events=frozenset(), interactivity=False
    )
    with SlackEmulator(manifest=narrow) as emulator:
        emulator.workspace.add_channel("C0A", "alpha")
        driver = SlackDriver(emulator, "http://127.0.0.1:9/never-called", "secret")
        with pytest.raises(NotDelivered, match="/train is not a valid command"):
            driver.slash("/train", "smollm2", "C0A", "U0ALICE")
        with pytest.raises(NotDelivered, match="app_mention"):
            driver.mention("C0A", "U0ALICE", "hello")
        message = emulator.workspace.messages[-1]
        with pytest.raises(NotDelivered, match="interactivity"):
            driver.click(message, "orgtune_feedback_helpful", "U0ALICE", "1")


def test_no_events_from_channels_the_bot_is_not_in() -> None:
    with SlackEmulator() as emulator:
        emulator.workspace.add_channel("C0OUT", "outside", bot_member=False)
        driver = SlackDriver(emulator, "http://127.0.0.1:9/never-called", "secret")
        with pytest.raises(NotDelivered, match="isn't in C0OUT"):
            driver.share_file("C0OUT", "U0ALICE", "notes.md", b"# Notes\n")


def test_web_api_methods_need_their_scope() -> None:
    without = dataclasses.replace(Manifest.load(), scopes=Manifest.load().scopes - {"reactions:write"})
    with SlackEmulator(manifest=without) as emulator:
        emulator.workspace.add_channel("C0A", "alpha")
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
        posted = client.chat_postMessage(channel="C0A", text="hello")
        with pytest.raises(SlackApiError) as refused:
            client.reactions_add(channel="C0A", timestamp=posted["ts"], name="eyes")
        assert refused.value.response["error"] == "missing_scope"
        assert refused.value.response["needed"] == "reactions:write"
