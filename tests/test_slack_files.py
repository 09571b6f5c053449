"""File downloads against the emulator, which serves them like real Slack.

``url_private`` answers 302 to a second path on Slack's own host, which answers 302
to a presigned link on another host (real Slack: *.slack-edge.com) that needs no
token; a bad token gets HTTP 200 with an HTML sign-in page. orgtune must follow
the chain, keep the token off the presigned host, and never store the sign-in page.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from jobs.download import DownloadError, Expected, SlackSignInPage, download
from orgtune.config import Config
from slackemu import SlackEmulator
from slackemu.state import StoredFile

MARKDOWN = b"# Expenses\n\nReceipts are due within 30 days of purchase.\n"
HTML = b"<!DOCTYPE html><html><body><h1>Travel</h1><p>Book trains, not flights, under 500 km.</p></body></html>"


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token="xoxb-files-test") as emu:
        yield emu


def _config(emu: SlackEmulator, token: str | None = None) -> Config:
    # The demo and test stacks configure the emulator the same way (tests/conftest.py, orgtune/demo.py).
    return Config(slack_bot_token=token or emu.bot_token, slack_api_url=emu.api_url, extra_file_hosts=emu.file_hosts)


def _share(emu: SlackEmulator, name: str, mimetype: str, filetype: str, content: bytes) -> dict[str, Any]:
    """Store a file in the workspace and return its files.info metadata, asked of the emulator."""
    fid = emu.workspace.new_id("F")
    emu.workspace.files[fid] = StoredFile(
        fid, name, name, mimetype, filetype, content, emu.workspace.bot_user_id, int(time.time())
    )
    info: dict[str, Any] = WebClient(token=emu.bot_token, base_url=emu.api_url).files_info(file=fid)["file"]
    return info


def _fetch(cfg: Config, info: dict[str, Any], token: str | None = None) -> bytes:
    """What the ingest job does with files.info's answer (jobs/ingest.py ``_download``)."""
    return download(
        info["url_private_download"],
        token or cfg.slack_bot_token or "",
        cfg.slack_token_hosts,
        tokenless_hosts=cfg.slack_tokenless_hosts,
        expected=Expected(info["mimetype"], info["filetype"], info["size"]),
    )


def test_the_redirect_chain_delivers_the_file_and_the_presigned_host_never_sees_the_token(
    emulator: SlackEmulator,
) -> None:
    cfg = _config(emulator)
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    assert _fetch(cfg, info) == MARKDOWN
    # It really went through the presigned host, on another host name than the API's...
    assert len(emulator.files.presigned_requests) == 1
    assert emulator.files.host not in cfg.slack_token_hosts
    # ...and that host never received the token.
    assert emulator.files.received_token is False
    assert [c.args for c in emulator.workspace.calls_to("files.download")] == [{"file": info["id"]}]


def test_the_emulator_notices_a_client_that_carries_the_token_to_the_presigned_host(
    emulator: SlackEmulator,
) -> None:
    # What the download code did before: urllib copies Authorization onto every redirect.
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    request = urllib.request.Request(info["url_private"], headers={"Authorization": f"Bearer {emulator.bot_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == MARKDOWN
    assert emulator.files.received_token is True


def test_without_the_allowed_presigned_host_the_redirect_is_refused(emulator: SlackEmulator) -> None:
    cfg = Config(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url)  # no extra_file_hosts
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    with pytest.raises(DownloadError, match="unexpected host"):
        _fetch(cfg, info)
    assert emulator.files.presigned_requests == []


def test_a_bad_or_missing_token_gets_the_sign_in_page_with_status_200(emulator: SlackEmulator) -> None:
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}):
        with urllib.request.urlopen(urllib.request.Request(info["url_private"], headers=headers)) as response:
            assert response.status == 200
            assert response.headers.get_content_type() == "text/html"
            assert b"Sign in" in response.read()
    assert emulator.files.presigned_requests == []


def test_the_sign_in_page_becomes_a_clear_download_error(emulator: SlackEmulator) -> None:
    cfg = _config(emulator)
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    # Before: download() returned the sign-in page's bytes, which were then parsed as the document.
    with pytest.raises(SlackSignInPage) as raised:
        _fetch(cfg, info, token="xoxb-revoked")
    message = str(raised.value)
    assert "sign-in page" in message and "files:read" in message and "whoever runs orgtune" in message


def test_the_ingest_job_passes_files_info_metadata_so_the_sign_in_page_is_refused(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    from bot import messages
    from jobs.ingest import _download, describe
    from jobs.runtime import Runtime
    from storage.models import Document

    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    good = Runtime.from_config(_config(emulator).with_(data_dir=tmp_path))
    assert _download(good, Document(name="expenses.md"), info) == MARKDOWN
    bad = Runtime.from_config(_config(emulator, token="xoxb-revoked").with_(data_dir=tmp_path))
    with pytest.raises(SlackSignInPage) as raised:
        _download(bad, Document(name="expenses.md"), info)
    # Reported as a failure on orgtune's side ("share it again"), not as a bad file.
    reply = messages.internal_error("expenses.md", describe(raised.value))
    assert "sign-in page" in reply and "share the file again" in reply


def test_an_html_upload_still_downloads(emulator: SlackEmulator) -> None:
    cfg = _config(emulator)
    info = _share(emulator, "travel.html", "text/html", "html", HTML)
    assert _fetch(cfg, info) == HTML
    # The sign-in page of another size is still told apart from an HTML file.
    with pytest.raises(SlackSignInPage):
        _fetch(cfg, info, token="xoxb-revoked")


def test_the_presigned_host_refuses_bad_signatures_and_expired_links(emulator: SlackEmulator) -> None:
    info = _share(emulator, "expenses.md", "text/markdown", "markdown", MARKDOWN)
    fid = info["id"]
    with urllib.request.urlopen(emulator.files.presign(fid), timeout=10) as response:  # no token needed
        assert response.read() == MARKDOWN
    tampered = emulator.files.presign(fid).rsplit("sig=", 1)[0] + "sig=" + "0" * 64
    other_file = emulator.files.presign(fid).replace(f"/presigned/{fid}?", "/presigned/F0OTHER?")
    for url, why in (
        (tampered, b"bad signature"),
        (other_file, b"bad signature"),
        (emulator.files.presign(fid, -1), b"link expired"),
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403 and refused.value.read() == why
    assert emulator.files.received_token is False
