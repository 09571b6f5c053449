"""Answering through an OpenAI-compatible server with runtime LoRA loading (vLLM ``--enable-lora``).

With ``ORGTUNE_INFERENCE_URL`` set, answer workers send generation to one GPU server
that keeps the base model resident and serves every channel's adapter on top of it,
instead of loading the base in each worker. :class:`RemoteEngine` keeps the local
:class:`~answering.engine.Engine`'s ``generate`` contract, so the pipeline can't tell
them apart.

The server is vLLM's OpenAI-compatible API (``vllm serve``), started for example as::

    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve Qwen/Qwen2.5-3B-Instruct \\
        --enable-lora --max-lora-rank 16 --max-loras 4 --max-cpu-loras 32 [--api-key KEY]

and ``ORGTUNE_INFERENCE_URL=http://gpu-1:8000/v1``. The endpoints used, relative to that URL:

- ``POST load_lora_adapter`` ``{"lora_name", "lora_path"}``: once per adapter (400 "already
  been loaded" counts as loaded). The path sent is the adapter directory as this worker
  sees it, so the server must see the artifact directory (``ORGTUNE_ARTIFACTS_DIR``)
  at the same path: mount it at the same place on both hosts.
- ``POST chat/completions`` with ``model`` = the adapter's name (or the base model's
  served name, vLLM's default: the Hugging Face id in the model sheet), greedy.
  A 404 for an adapter name means the server restarted and forgot it: it is loaded
  again and the request retried once.
- ``GET models`` lists the base model and the loaded adapters.

Adapters are never unloaded from here: vLLM's registry entries are cheap, its weights
are cached LRU (``--max-cpu-loras``), and another worker sharing the server may be
using the adapter. Adapter names are ``orgtune-a<adapter id>``; ids are unique per
database, so one server should serve one orgtune deployment.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from answering.engine import AdapterRef, Generation
from orgtune import defaults
from orgtune.config import Config, ConfigError
from training.models import get_model

log = logging.getLogger(__name__)


_ALREADY_LOADED = "has already been loaded"
"""vLLM's 400 message when an adapter name is registered (another worker, or before a lost response)."""

_MAX_ERROR_CHARS = 300
"""How much of the server's error message is quoted in ours."""


class InferenceServerError(RuntimeError):
    """The inference server couldn't be reached or refused a request.

    The message names the URL (without credentials) and the HTTP status, never the API key.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_message(self) -> str:
        """The server's own words: vLLM's ``{"error": {"message"}}`` (older: ``{"message"}``), or the text."""
        data = self.json()
        if isinstance(data, dict):
            error = data.get("error")
            for value in (error.get("message") if isinstance(error, dict) else error, data.get("message")):
                if isinstance(value, str) and value:
                    return value
            if isinstance(data.get("detail"), str):
                return str(data["detail"])
        return self.body.decode("utf-8", "replace").strip()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would resend the bearer token to wherever it points: refuse (the 3xx becomes an error)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def adapter_name(adapter: AdapterRef) -> str:
    """The adapter's name on the server (stable, so every worker and every restart agrees)."""
    return f"{defaults.ADAPTER_NAME_PREFIX}{adapter.adapter_id}"


def display_url(url: str) -> str:
    """``url`` without user:password, fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class RemoteEngine:
    """Generation on an OpenAI-compatible server with LoRA adapters; same ``generate`` as the local Engine.

    Thread-safe: concurrent questions generate concurrently (the server batches them);
    each adapter is loaded once per engine, and concurrent first uses of one adapter
    send a single load.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = defaults.INFERENCE_TIMEOUT_S) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigError(
                f"ORGTUNE_INFERENCE_URL must be an http(s) URL such as http://gpu-1:8000/v1, not {url!r}."
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._lock = threading.Lock()
        self._loaded: set[str] = set()
        self._loading: dict[str, threading.Lock] = {}
        self.loads = 0
        """Base models loaded in this process: always 0, the server holds them (the local Engine counts its own)."""
        self.adapter_loads = 0
        """Adapters this engine loaded on the server (a restart of the server makes it load them again)."""

    @classmethod
    def from_config(cls, config: Config) -> RemoteEngine:
        """The engine for ``config.inference_url`` (required) and its optional API key."""
        config.require("inference_url")
        assert config.inference_url is not None
        return cls(config.inference_url, config.inference_api_key)

    def __repr__(self) -> str:  # never the key
        return f"RemoteEngine({display_url(self.url)!r})"

    # --- the Engine contract -------------------------------------------------------------
    def generate(self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str) -> Generation:
        """Greedy answer with ``adapter`` (or the bare base model when None), generated on the server.

        Raises InferenceServerError when the server can't be reached or refuses.
        """
        spec = get_model(adapter.model if adapter else model_name)
        start = time.perf_counter()
        if adapter is None:
            response = self._chat(spec.base_model, messages, spec.max_new_tokens)
            self._check(response, "/chat/completions", _BASE_HINTS)
        else:
            response = self._chat_with_adapter(adapter, messages, spec.max_new_tokens)
        text, n = self._completion(response)
        return Generation(text, n, time.perf_counter() - start, spec.name, adapter.adapter_id if adapter else None)

    def served_models(self) -> list[str]:
        """Ids the server serves: its base model(s), then the adapters it has loaded."""
        response = self._request("GET", "/models")
        self._check(response, "/models")
        data = response.json()
        cards = data.get("data") if isinstance(data, dict) else None
        return [str(c.get("id")) for c in cards or [] if isinstance(c, dict)]

    # --- adapters --------------------------------------------------------------------------
    def _chat_with_adapter(self, adapter: AdapterRef, messages: list[dict[str, str]], max_tokens: int) -> _Response:
        name = self._ensure_loaded(adapter)
        response = self._chat(name, messages, max_tokens)
        if response.status == 404 and name in response.error_message():
            # The server restarted and forgot the adapter: load it again and retry once.
            log.warning("%s no longer knows %s; loading it again", display_url(self.url), name)
            with self._lock:
                self._loaded.discard(name)
            self._ensure_loaded(adapter)
            response = self._chat(name, messages, max_tokens)
        self._check(response, "/chat/completions")
        return response

    def _ensure_loaded(self, adapter: AdapterRef) -> str:
        name = adapter_name(adapter)
        with self._lock:
            if name in self._loaded:
                return name
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one load per adapter, while other adapters load and generate freely
            with self._lock:
                if name in self._loaded:
                    return name
            self._load(name, adapter)
            with self._lock:
                self._loaded.add(name)
        return name

    def _load(self, name: str, adapter: AdapterRef) -> None:
        response = self._request("POST", "/load_lora_adapter", {"lora_name": name, "lora_path": str(adapter.path)})
        if response.status == 400 and _ALREADY_LOADED in response.error_message():
            log.info("%s already has %s", display_url(self.url), name)
            return
        self._check(response, "/load_lora_adapter", _load_hints(response))
        with self._lock:
            self.adapter_loads += 1
        log.info("loaded %s (%s) on %s", name, adapter.path, display_url(self.url))

    # --- HTTP ------------------------------------------------------------------------------
    def _chat(self, model: str, messages: list[dict[str, str]], max_tokens: int) -> _Response:
        """One greedy chat completion; the caller checks the status (a 404 may mean "load it again")."""
        payload = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        return self._request("POST", "/chat/completions", payload)

    def _completion(self, response: _Response) -> tuple[str, int]:
        """(text, completion tokens); stripped like the local engine's output."""
        data = response.json()
        try:
            content = data["choices"][0]["message"]["content"] or ""
            tokens = (data.get("usage") or {}).get("completion_tokens") or 0
            return str(content).strip(), int(tokens)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            raise InferenceServerError(
                f"inference server {display_url(self.url)}/chat/completions answered {response.status} "
                "without choices[0].message.content",
                response.status,
            ) from None

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> _Response:
        """One request; any HTTP status comes back as a response, transport failures raise."""
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        where = display_url(self.url) + path
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                return _Response(reply.status, reply.read())
        except urllib.error.HTTPError as e:
            return _Response(e.code, _body(e))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(e, TimeoutError) or isinstance(reason, TimeoutError):
                raise InferenceServerError(
                    f"inference server {where} did not answer within {self.timeout:.0f} s"
                ) from None
            raise InferenceServerError(f"could not reach the inference server at {where}: {reason}") from None

    def _check(self, response: _Response, path: str, hints: dict[int, str] | None = None) -> None:
        """Raise InferenceServerError for a non-2xx response, with the server's message and a hint."""
        if response.ok:
            return
        said = self._redact(response.error_message())[:_MAX_ERROR_CHARS]
        hint = {**_STATUS_HINTS, **(hints or {})}.get(response.status, "")
        raise InferenceServerError(
            f"inference server {display_url(self.url)}{path} answered {response.status}: {said}"
            + (f" ({hint})" if hint else ""),
            response.status,
        )

    def _redact(self, text: str) -> str:
        # Belt and braces: a proxy or a misconfigured server could echo the Authorization header.
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


_KEY_HINT = "check ORGTUNE_INFERENCE_API_KEY against the server's --api-key"
_STATUS_HINTS = {401: _KEY_HINT, 403: _KEY_HINT}
_BASE_HINTS = {
    404: "the server must serve this base model under its Hugging Face id, vLLM's default served name",
}


def _load_hints(response: _Response) -> dict[int, str]:
    """Why a load failed, in terms of what a deployer can change."""
    if response.error_message() == "Not Found":  # the route itself is missing
        return {
            404: "runtime adapter loading is off: start the server with --enable-lora and "
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, and make ORGTUNE_INFERENCE_URL end in /v1"
        }
    return {
        404: "the server must see the adapter directory at the same path as the workers: "
        "mount the artifact directory (ORGTUNE_ARTIFACTS_DIR) at the same place on both hosts"
    }


def _body(error: urllib.error.HTTPError) -> bytes:
    try:
        with error:
            return error.read()
    except Exception:  # no body to read (fp is None) or the connection dropped: the status says enough
        return b""
