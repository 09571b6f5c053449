"""The bot token only ever goes to Slack's host; redirects and Slack's sign-in page are handled; sizes are
enforced while streaming."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.download import (
    DownloadError,
    Expected,
    SlackSignInPage,
    check_url,
    download,
    host_matches,
    next_hop,
)
from orgtune.config import Config
from parsing import RejectedFile


class _Server:
    """A tiny HTTP server that records Authorization headers and serves canned answers."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]], bind: str = "127.0.0.1") -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.seen.append((self.path, self.headers.get("Authorization")))
                status, headers, body = routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((bind, 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(
        {
            "/ok": (200, {}, b"hello"),
            "/big": (200, {}, b"x" * 5000),
            "/liar": (200, {"Content-Length": "10"}, b"y" * 10),
            "/away": (302, {"Location": "http://localhost:1/steal"}, b""),
            "/gone": (404, {}, b"nope"),
        }
    )
    yield srv
    srv.httpd.shutdown()


def test_token_is_sent_to_the_allowed_host(server: _Server) -> None:
    assert download(server.url("/ok"), "xoxb-secret", {"127.0.0.1"}) == b"hello"
    assert server.seen == [("/ok", "Bearer xoxb-secret")]


def test_other_hosts_never_receive_the_token(server: _Server) -> None:
    with pytest.raises(DownloadError, match="not a Slack file host"):
        download(server.url("/ok", host="localhost"), "xoxb-secret", {"127.0.0.1"})
    with pytest.raises(DownloadError, match="unexpected host"):
        download(server.url("/away"), "xoxb-secret", {"127.0.0.1"})
    assert all(path != "/steal" for path, _ in server.seen)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(DownloadError, match="plain HTTP"):
        check_url("http://files.slack.com/x", {"files.slack.com"})
    check_url("https://files.slack.com/files-pri/T1-F1/a.pdf", {"files.slack.com"})


def test_size_limit_is_enforced_while_streaming(server: _Server) -> None:
    with pytest.raises(RejectedFile) as info:
        download(server.url("/big"), "t", {"127.0.0.1"}, max_bytes=1000, filename="big.pdf")
    assert info.value.code == "too_large" and "big.pdf" in info.value.reason
    assert download(server.url("/liar"), "t", {"127.0.0.1"}, max_bytes=1000) == b"y" * 10


def test_http_errors_become_clear_download_errors(server: _Server) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url("/gone"), "t", {"127.0.0.1"})


def test_file_hosts_follow_the_configured_api() -> None:
    real = Config()
    assert real.slack_token_hosts == {"slack.com", "files.slack.com", "*.slack.com"}
    assert {"*.slack-edge.com", "*.slack-files.com"} <= real.slack_tokenless_hosts
    assert not real.slack_token_hosts & real.slack_tokenless_hosts
    emulated = Config(slack_api_url="http://127.0.0.1:9999/api/", extra_file_hosts=("127.0.0.2",))
    assert emulated.slack_token_hosts == {"127.0.0.1"}
    assert emulated.slack_tokenless_hosts == {"127.0.0.2"}  # extras never get the token
    assert emulated.slack_file_hosts == {"127.0.0.1", "127.0.0.2"}


# --- redirects ------------------------------------------------------------------------


@pytest.fixture
def cdn() -> Iterator[_Server]:
    """A second host, playing Slack's presigned file host (*.slack-edge.com)."""
    srv = _Server({"/presigned/F1": (200, {"Content-Type": "text/markdown"}, b"# Handbook")}, bind="127.0.0.2")
    yield srv
    srv.httpd.shutdown()


def _redirecting(routes: dict[str, str]) -> _Server:
    return _Server({path: (302, {"Location": to}, b"") for path, to in routes.items()})


def test_the_token_is_dropped_on_the_hop_to_a_tokenless_file_host(cdn: _Server) -> None:
    slack = _redirecting({"/files/F1": "/files-pri/T1-F1", "/files-pri/T1-F1": cdn.url("/presigned/F1", "127.0.0.2")})
    try:
        data = download(slack.url("/files/F1"), "xoxb-secret", {"127.0.0.1"}, tokenless_hosts={"127.0.0.2"})
    finally:
        slack.httpd.shutdown()
    assert data == b"# Handbook"
    # Both hops within Slack's own host carry the token; the presigned host never sees it
    # (urllib, left to itself, copies Authorization onto every hop).
    assert slack.seen == [("/files/F1", "Bearer xoxb-secret"), ("/files-pri/T1-F1", "Bearer xoxb-secret")]
    assert cdn.seen == [("/presigned/F1", None)]


def test_a_redirect_to_a_host_in_neither_set_is_refused_before_any_request(cdn: _Server) -> None:
    slack = _redirecting({"/files/F1": cdn.url("/presigned/F1", "127.0.0.2")})
    try:
        with pytest.raises(DownloadError, match="unexpected host"):
            download(slack.url("/files/F1"), "xoxb-secret", {"127.0.0.1"})
    finally:
        slack.httpd.shutdown()
    assert cdn.seen == []


def test_redirect_loops_stop_after_the_limit() -> None:
    from orgtune import defaults

    slack = _redirecting({"/loop": "/loop"})
    try:
        with pytest.raises(DownloadError, match="more than"):
            download(slack.url("/loop"), "t", {"127.0.0.1"})
    finally:
        slack.httpd.shutdown()
    assert len(slack.seen) == defaults.MAX_DOWNLOAD_REDIRECTS + 1


def test_redirects_are_followed_only_over_https_except_on_loopback() -> None:
    real = Config()
    token, tokenless = real.slack_token_hosts, real.slack_tokenless_hosts
    start = "https://files.slack.com/files-pri/T1-F1/a.pdf"
    presigned = "https://files-edge.slack-edge.com/T1-F1/a.pdf?sig=x"
    assert next_hop(start, presigned, token, tokenless) == presigned
    assert next_hop(start, "https://acme.slack.com/files-pri/T1-F1", token, tokenless).startswith("https://acme.")
    for downgraded in ("http://files-edge.slack-edge.com/a.pdf", "http://files.slack.com/a.pdf", "http://127.0.0.1/a"):
        with pytest.raises(DownloadError, match="https to plain http"):
            next_hop(start, downgraded, token, tokenless)
    # From plain http (only ever the local emulator), plain http is followed only to loopback hosts.
    with pytest.raises(DownloadError, match="plain HTTP"):
        next_hop("http://127.0.0.1:1/files/F1", "http://files.slack.com/a.pdf", token | {"127.0.0.1"}, tokenless)
    assert next_hop("http://127.0.0.1:1/f", "http://127.0.0.2:2/p", {"127.0.0.1"}, {"127.0.0.2"})


@pytest.mark.parametrize(
    "host",
    ["evilslack.com", "slack.com.evil.io", "files.slack.com.evil.io", "notslack-edge.com", "slack-edge.com.io", ""],
)
def test_lookalike_hosts_match_nothing(host: str) -> None:
    real = Config()
    assert not host_matches(host, real.slack_file_hosts)
    with pytest.raises(DownloadError, match="not a Slack file host"):
        check_url(f"https://{host}/files-pri/T1-F1/a.pdf", real.slack_token_hosts)
    with pytest.raises(DownloadError, match="unexpected host"):
        next_hop("https://files.slack.com/a", f"https://{host}/a", real.slack_token_hosts, real.slack_tokenless_hosts)


def test_hosts_match_on_label_boundaries() -> None:
    real = Config()
    for host in ("files.slack.com", "acme.slack.com", "FILES.Slack.com.", "a.b.slack-edge.com", "slack-files.com"):
        assert host_matches(host, real.slack_file_hosts), host
    assert host_matches("files.slack.com", real.slack_token_hosts)
    assert not host_matches("files-edge.slack-edge.com", real.slack_token_hosts)  # presigned: no token
    # Addresses that show one host to one URL parser and another to the next are refused outright.
    for trick in ("https://files.slack.com@evil.io/a", "https://evil.io\\@files.slack.com/a"):
        with pytest.raises(DownloadError):
            check_url(trick, real.slack_token_hosts)


# --- Slack's sign-in page -------------------------------------------------------------

SIGN_IN = b"<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>Sign in</body></html>"


@pytest.fixture
def signin() -> Iterator[_Server]:
    """A host that answers like Slack does to a bad token: 200 and an HTML page."""
    page = (200, {"Content-Type": "text/html; charset=utf-8"}, SIGN_IN)
    srv = _Server({"/files/notes.md": page, "/files/page.html": page})
    yield srv
    srv.httpd.shutdown()


def test_the_sign_in_page_is_not_taken_for_a_non_html_file(signin: _Server) -> None:
    # Before this check the HTML page came back as the "file" and was stored as the document.
    expected = Expected(mimetype="text/markdown", filetype="markdown", size=1234)
    with pytest.raises(SlackSignInPage, match="sign-in page") as info:
        download(signin.url("/files/notes.md"), "xoxb-bad", {"127.0.0.1"}, expected=expected)
    assert "files:read" in str(info.value) and "whoever runs orgtune" in str(info.value)
    assert isinstance(info.value, DownloadError)  # reported as our failure: the user may share it again


def test_an_html_file_is_told_from_the_sign_in_page_by_its_size(signin: _Server) -> None:
    url = signin.url("/files/page.html")
    html = Expected(mimetype="text/html", filetype="html", size=len(SIGN_IN))
    assert download(url, "t", {"127.0.0.1"}, expected=html) == SIGN_IN
    with pytest.raises(SlackSignInPage):
        download(url, "t", {"127.0.0.1"}, expected=Expected(mimetype="text/html", filetype="html", size=99_999))
    with pytest.raises(SlackSignInPage):  # files.info gave no type, but the size gives it away
        download(url, "t", {"127.0.0.1"}, expected=Expected(size=3))
