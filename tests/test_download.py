"""The bot token only ever goes to Slack's host; sizes are enforced while streaming."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.download import DownloadError, check_url, download
from orgtune.config import Config
from parsing import RejectedFile


class _Server:
    """A tiny HTTP server that records Authorization headers and serves canned answers."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
    assert Config().slack_file_hosts == {"slack.com", "files.slack.com"}
    emulated = Config(slack_api_url="http://127.0.0.1:9999/api/")
    assert emulated.slack_file_hosts == {"127.0.0.1"}
