"""/orgtune docs | forget | help through signed slash commands and response_url."""

from __future__ import annotations

from tests.conftest import SAMPLES, Stack

HANDBOOK = SAMPLES / "handbook"


def _share(stack: Stack, channel: str, name: str) -> str:
    shared = stack.driver.share_file(channel, "U0ALICE", name, (HANDBOOK / name).read_bytes())
    return stack.reply_in(channel, shared.message.ts)


def _responses(stack: Stack) -> list:  # type: ignore[type-arg]
    return [m for m in stack.ws.messages if m.via == "response_url"]


def _slash(stack: Stack, text: str, channel: str = "C0A") -> str:
    before = len(_responses(stack))
    ack = stack.driver.slash("/orgtune", text, channel, "U0ALICE")
    assert ack.status == 200
    msgs = stack.ws.wait_for(lambda: _responses(stack)[before:] or None, timeout=15)
    return str(msgs[0].text)


def test_docs_lists_the_channels_documents_and_forget_removes_one(stack: Stack) -> None:
    _share(stack, "C0A", "benefits.md")
    _share(stack, "C0A", "remote-work.pdf")
    listing = _slash(stack, "docs")
    assert listing.startswith("*2 documents in this channel:*")
    assert "• *benefits.md* — " in listing and "• *remote-work.pdf* — 2 pages, " in listing
    assert _responses(stack)[-1].ephemeral_to == "U0ALICE"

    forgot = _slash(stack, "forget benefits.md")
    assert forgot == "Forgot *benefits.md*. This channel now knows 1 document."
    assert _responses(stack)[-1].ephemeral_to is None  # the whole channel is told
    assert "benefits.md" not in _slash(stack, "docs")
    assert _slash(stack, "forget nothing-here.pdf").startswith("No document called *nothing-here.pdf*")


def test_forget_needs_an_unambiguous_name(stack: Stack) -> None:
    _share(stack, "C0A", "security.md")
    _share(stack, "C0A", "expenses.md")
    assert _slash(stack, "forget").startswith("Which document?")
    assert "Forgot *security.md*" in _slash(stack, "forget SECURITY")  # prefix, case-insensitive
    assert "Forgot *expenses.md*" in _slash(stack, "forget exp")


def test_channel_b_never_sees_channel_a_documents(stack: Stack) -> None:
    _share(stack, "C0A", "benefits.md")
    assert _slash(stack, "docs", channel="C0B").startswith("This channel doesn't know any documents yet.")
    assert _slash(stack, "forget benefits.md", channel="C0B").startswith("No document called")
    assert "benefits.md" in _slash(stack, "docs", channel="C0A")


def test_help_and_unknown_subcommands(stack: Stack) -> None:
    help_text = _slash(stack, "help")
    for command in ("/orgtune docs", "/orgtune forget <name>", "/orgtune help"):
        assert command in help_text
    assert _slash(stack, "frobnicate").startswith("I don't know `/orgtune frobnicate`.")
    assert "/orgtune docs" in _slash(stack, "")
