"""Downloading Slack files with the bot token, within limits.

Slack answers ``url_private`` (on files.slack.com, with ``Authorization: Bearer``)
with redirects: a hop within *.slack.com, then on to a presigned link on another
Slack file host (*.slack-edge.com, *.slack-files.com) that needs no token. So the
configuration gives two host sets: hosts that get the token, and tokenless file
hosts a redirect may lead to. Redirects are followed here, one hop at a time, not
by urllib (which copies the Authorization header to every hop): only over https
(plain http only to loopback, i.e. the emulator), never from https down to http,
only to those hosts, at most ``MAX_DOWNLOAD_REDIRECTS`` times, and the token goes
only to hosts that get it. A crafted URL or redirect can't carry the token elsewhere.

A bad token (or one without ``files:read``) gets HTTP 200 with Slack's HTML sign-in
page, not an error status; checked against files.info's metadata, that page is
refused instead of being stored as the document.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlparse

from orgtune import defaults
from parsing import RejectedFile

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Content types Slack's sign-in page may come as."""


class DownloadError(RuntimeError):
    """The file could not be fetched; the message is safe to show a user.

    An internal failure, not a verdict on the file: the ingest job reports it as
    "something went wrong on my side, share it again", never "your file is bad".
    """


class SlackSignInPage(DownloadError):
    """Slack served its HTML sign-in page instead of the file: the token is invalid or lacks files:read."""

    def __init__(self) -> None:
        super().__init__(
            "Slack answered with its sign-in page instead of the file, so I couldn't download it: "
            "my token lacks the `files:read` scope or is no longer valid, which whoever runs orgtune must fix"
        )


@dataclass(frozen=True)
class Expected:
    """What files.info says about the file, to tell its bytes from Slack's sign-in page."""

    mimetype: str | None = None
    filetype: str | None = None
    size: int | None = None

    @property
    def is_html(self) -> bool | None:
        """Whether the file itself is HTML; None when files.info gave neither type."""
        mimetype = (self.mimetype or "").split(";")[0].strip().lower()
        filetype = (self.filetype or "").strip().lower()
        if not mimetype and not filetype:
            return None
        return mimetype in HTML_TYPES or filetype in ("html", "htm", "xhtml")


class _Redirected(Exception):
    """A 3xx answer, raised out of urllib so that this module decides whether to follow it."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class _NoAutomaticRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        fp.close()
        raise _Redirected(newurl)  # newurl is already resolved against the request's URL


def _host(url: str) -> str:
    return (urlparse(url).hostname or "").lower().rstrip(".")


def host_matches(host: str, patterns: Collection[str]) -> bool:
    """True if ``host`` is one of ``patterns``, where ``*.example.com`` means any subdomain of example.com.

    Matching is on label boundaries: ``*.slack.com`` matches ``files.slack.com`` but
    never ``evilslack.com`` or ``slack.com.evil.io`` (nor ``slack.com`` itself).
    """
    host = host.lower().rstrip(".")
    if not host:
        return False
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            suffix = pattern[1:]  # ".slack.com": the dot pins the match to a whole label
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: where the local emulator runs, the only place plain http is allowed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(url: str) -> None:
    parsed = urlparse(url)
    # user@host and backslashes are ways to make one parser see a different host than another.
    if parsed.scheme not in ("https", "http") or "@" in parsed.netloc or "\\" in url:
        raise DownloadError(f"Refusing to download from {parsed.hostname or url!r}: not a Slack file host.")
    if parsed.scheme == "http" and not is_loopback(_host(url)):
        raise DownloadError("Refusing to send the bot token over plain HTTP.")


def check_url(url: str, allowed_hosts: Collection[str]) -> None:
    """Raise DownloadError unless ``url`` is https (or http to the local emulator) on an allowed host."""
    if not host_matches(_host(url), allowed_hosts):
        raise DownloadError(f"Refusing to download from {urlparse(url).hostname or url!r}: not a Slack file host.")
    _check_address(url)


def next_hop(current: str, location: str, token_hosts: Collection[str], tokenless_hosts: Collection[str]) -> str:
    """``location`` if the download may follow a redirect there from ``current``; else DownloadError."""
    if urlparse(current).scheme == "https" and urlparse(location).scheme != "https":
        raise DownloadError("Slack redirected the download from https to plain http; refusing to follow.")
    host = _host(location)
    if not (host_matches(host, token_hosts) or host_matches(host, tokenless_hosts)):
        raise DownloadError("Slack redirected the download to an unexpected host; refusing to follow.")
    _check_address(location)
    return location


def download(
    url: str,
    token: str,
    token_hosts: Collection[str],
    max_bytes: int = defaults.MAX_FILE_BYTES,
    timeout_s: float = defaults.DOWNLOAD_TIMEOUT_S,
    filename: str = "file",
    *,
    tokenless_hosts: Collection[str] = (),
    expected: Expected | None = None,
) -> bytes:
    """Fetch ``url`` (on one of ``token_hosts``) with ``Authorization: Bearer token``, stopping past ``max_bytes``.

    Redirects are followed to ``token_hosts`` (with the token) and ``tokenless_hosts``
    (without it). Raises DownloadError for network/HTTP/redirect problems,
    SlackSignInPage when the answer is Slack's sign-in page rather than the file
    described by ``expected``, and RejectedFile("too_large") when the body exceeds
    the limit (checked against Content-Length first, then while streaming, since a
    header can lie).
    """
    check_url(url, token_hosts)
    opener = urllib.request.build_opener(_NoAutomaticRedirects())
    current = url
    for _hop in range(defaults.MAX_DOWNLOAD_REDIRECTS + 1):
        # Decided per hop: a presigned host must not see the token, even though urllib would send it.
        headers = {"Authorization": f"Bearer {token}"} if host_matches(_host(current), token_hosts) else {}
        try:
            with opener.open(urllib.request.Request(current, headers=headers), timeout=timeout_s) as response:
                data = _read_limited(response, max_bytes, filename)
                _refuse_sign_in_page(response.headers.get_content_type(), len(data), expected)
                return data
        except _Redirected as hop:
            current = next_hop(current, hop.location, token_hosts, tokenless_hosts)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"Slack answered HTTP {exc.code} when downloading the file.") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise DownloadError(f"The download failed ({type(exc).__name__}).") from None
        except ValueError:  # http.client.InvalidURL and friends
            raise DownloadError("Slack gave a download address that is not a valid URL.") from None
    raise DownloadError(f"Slack redirected the download more than {defaults.MAX_DOWNLOAD_REDIRECTS} times.")


def _refuse_sign_in_page(content_type: str, size: int, expected: Expected | None) -> None:
    """Raise SlackSignInPage if an HTML answer can't be the file files.info described."""
    if content_type not in HTML_TYPES or expected is None:
        return
    if expected.is_html is False or (expected.size is not None and size != expected.size):
        raise SlackSignInPage()


def _read_limited(response: Any, max_bytes: int, filename: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(filename, int(declared), max_bytes)
    chunks: list[bytes] = []
    total = 0
    stream: IO[bytes] = response
    while chunk := stream.read(defaults.DOWNLOAD_CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise too_large(filename, total, max_bytes, at_least=True)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(filename: str, size: int, max_bytes: int, at_least: bool = False) -> RejectedFile:
    mb = size / 1024 / 1024
    limit = max_bytes / 1024 / 1024
    more = "more than " if at_least else ""
    return RejectedFile(
        f"{filename} is {more}{mb:.1f} MB, over the {limit:.0f} MB limit.",
        "Split it into smaller documents (or export only the relevant part) and upload again.",
        code="too_large",
    )
