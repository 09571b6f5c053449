"""Downloading Slack files with the bot token, within limits.

The token is sent only to hosts the configuration allows (the Slack API host it
was given, or Slack's file host); redirects are followed only to such hosts, so
a crafted URL can never carry the token elsewhere.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Collection
from typing import IO, Any
from urllib.parse import urlparse

from orgtune import defaults
from parsing import RejectedFile


class DownloadError(RuntimeError):
    """The file could not be fetched; the message is safe to show a user."""


class _SameHostsRedirect(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed: Collection[str]) -> None:
        self.allowed = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if _host(newurl) not in self.allowed:
            raise DownloadError("Slack redirected the download to an unexpected host; refusing to follow.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _host(url: str) -> str:
    return (urlparse(url).hostname or "").lower()


def check_url(url: str, allowed_hosts: Collection[str]) -> None:
    """Raise DownloadError unless ``url`` is https (or http to the local emulator) on an allowed host."""
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or _host(url) not in allowed_hosts:
        raise DownloadError(f"Refusing to download from {parsed.hostname or url!r}: not a Slack file host.")
    if parsed.scheme == "http" and _host(url) not in ("127.0.0.1", "localhost", "::1"):
        raise DownloadError("Refusing to send the bot token over plain HTTP.")


def download(
    url: str,
    token: str,
    allowed_hosts: Collection[str],
    max_bytes: int = defaults.MAX_FILE_BYTES,
    timeout_s: float = defaults.DOWNLOAD_TIMEOUT_S,
    filename: str = "file",
) -> bytes:
    """Fetch ``url`` with ``Authorization: Bearer token``, stopping past ``max_bytes``.

    Raises DownloadError for network/HTTP problems and RejectedFile("too_large")
    when the body exceeds the limit (checked against Content-Length first, then
    while streaming, since a header can lie).
    """
    check_url(url, allowed_hosts)
    opener = urllib.request.build_opener(_SameHostsRedirect(allowed_hosts))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return _read_limited(response, max_bytes, filename)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"Slack answered HTTP {exc.code} when downloading the file.") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise DownloadError(f"The download failed ({type(exc).__name__}).") from None
    except ValueError:  # http.client.InvalidURL and friends
        raise DownloadError("Slack gave a download address that is not a valid URL.") from None


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
