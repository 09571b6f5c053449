"""A stand-in for vLLM's OpenAI-compatible server with runtime LoRA loading, for tests and local trials.

It serves one orgtune model under its Hugging Face id (vLLM's default served name) and
speaks the part of vLLM's HTTP API that :class:`answering.remote.RemoteEngine` uses, with
vLLM's request and response shapes and status codes, generating with the local
:class:`~answering.engine.Engine` (transformers + peft):

- ``GET /v1/models``: the base model, then the loaded adapters (``parent`` = the base).
- ``POST /v1/load_lora_adapter`` ``{"lora_name", "lora_path"}``: 200 with a text body;
  400 when a field is missing or the name is already loaded; 404 when no adapter is at the path.
- ``POST /v1/unload_lora_adapter`` ``{"lora_name"}``: 200 with a text body; 404 when unknown.
- ``POST /v1/chat/completions``: ``model`` = the base or a loaded adapter (404 otherwise).

Errors are vLLM's ``{"error": {"message", "type", "param", "code"}}``; unknown routes are
FastAPI's ``{"detail": "Not Found"}``. With an API key every ``/v1`` request needs
``Authorization: Bearer KEY`` (401 ``{"error": "Unauthorized"}``), like ``vllm serve --api-key``.
Every request is recorded in order (:attr:`StandinServer.requests`), like the Slack
emulator records calls, so tests can assert on what a client sent.

Deliberate differences from vLLM: generation is greedy whatever the temperature, one
request at a time; ``max_tokens`` must be at least the model's ``max_new_tokens`` (the
local engine can't stop earlier) and generation stops there; no streaming.

Local use: ``python -m answering.standin --port 8000 [--model smollm2] [--api-key KEY]``,
then ``ORGTUNE_INFERENCE_URL=http://127.0.0.1:8000/v1`` for the answer worker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from answering.engine import AdapterRef, Engine
from orgtune.config import Config
from training.models import get_model

_ADAPTER_IDS = itertools.count(1)
"""Engine-side ids for loaded adapters, like vLLM's lora_int_id: a reload is a new adapter to the engine.
Process-wide, so stand-ins sharing one Engine never confuse two adapters."""

Payload = dict[str, Any] | str
"""A JSON body (dict) or a plain-text body (str), as vLLM answers load/unload with text."""


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in saw it, and what it answered."""

    method: str
    path: str
    body: Any
    """The parsed JSON body (None for GET or unparseable bodies)."""
    authorization: str | None
    """The Authorization header as sent (tests check the bearer token)."""
    status: int
    response: Payload


class ApiError(Exception):
    """An error answer in vLLM's shape."""

    def __init__(self, status: int, message: str, err_type: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.err_type, self.param = status, message, err_type, param

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.err_type, "param": self.param, "code": self.status}}


class StandinServer:
    """Start with :meth:`start` (or ``with``); point ORGTUNE_INFERENCE_URL at :attr:`url`."""

    def __init__(
        self,
        config: Config,
        model: str = "tiny",
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        engine: Engine | None = None,
    ) -> None:
        self.spec = get_model(model)
        self.config = config
        self.engine = engine or Engine(config)
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self._adapters: dict[str, AdapterRef] = {}
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._routes: dict[tuple[str, str], Callable[[Any], tuple[int, Payload]]] = {
            ("GET", "/v1/models"): lambda _: (200, self._models()),
            ("POST", "/v1/load_lora_adapter"): self._load,
            ("POST", "/v1/unload_lora_adapter"): self._unload,
            ("POST", "/v1/chat/completions"): self._chat,
        }

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def served_model(self) -> str:
        """The base model's name in requests and /v1/models: its Hugging Face id, as vLLM serves it."""
        return self.spec.base_model

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """What ORGTUNE_INFERENCE_URL should be (vLLM's convention: ends in /v1)."""
        return self.base_url + "/v1"

    def start(self) -> StandinServer:
        threading.Thread(target=self._server.serve_forever, name="inference-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- for tests ----------------------------------------------------------------------------
    def calls_to(self, path: str) -> list[Recorded]:
        """Recorded requests to ``path`` (e.g. "/v1/load_lora_adapter"), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def loaded_adapters(self) -> dict[str, str]:
        """Loaded adapter names and the paths they were loaded from."""
        with self._lock:
            return {name: str(ref.path) for name, ref in self._adapters.items()}

    def forget_adapters(self) -> None:
        """Forget every loaded adapter, as a restarted server would (the base stays)."""
        with self._lock:
            self._adapters.clear()

    # --- the API --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: bytes, authorization: str | None) -> tuple[int, Payload]:
        """Answer one request and record it: (status, JSON dict or text)."""
        parsed = _parse(body)
        status, payload = self._dispatch(method, path, parsed, authorization)
        with self._lock:
            self.requests.append(Recorded(method, path, parsed, authorization, status, payload))
        return status, payload

    def _dispatch(self, method: str, path: str, body: Any, authorization: str | None) -> tuple[int, Payload]:
        expected = f"Bearer {self.api_key}"
        if (
            self.api_key
            and path.startswith("/v1")
            and not secrets.compare_digest((authorization or "").encode(), expected.encode())
        ):
            return 401, {"error": "Unauthorized"}
        route = self._routes.get((method, path))
        if route is None:
            known = any(p == path for _, p in self._routes)
            return (405, {"detail": "Method Not Allowed"}) if known else (404, {"detail": "Not Found"})
        try:
            if method == "POST" and not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.", "BadRequestError")
            return route(body)
        except ApiError as e:
            return e.status, e.payload()

    def _models(self) -> dict[str, Any]:
        cards = [_card(self.served_model, self.served_model, None)]
        with self._lock:
            cards += [_card(name, str(ref.path), self.served_model) for name, ref in self._adapters.items()]
        return {"object": "list", "data": cards}

    def _load(self, body: dict[str, Any]) -> tuple[int, Payload]:
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            raise ApiError(400, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput")
        with self._lock:
            if name in self._adapters:
                raise ApiError(
                    400,
                    f"The lora adapter '{name}' has already been loaded. If you want to load the adapter in place, "
                    "set 'load_inplace' to True.",
                    "InvalidUserInput",
                )
            if not (Path(path) / "adapter_config.json").is_file():
                raise ApiError(404, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError")
            self._adapters[name] = AdapterRef(next(_ADAPTER_IDS), self.spec.name, Path(path))
        return 200, f"Success: LoRA adapter '{name}' added successfully."

    def _unload(self, body: dict[str, Any]) -> tuple[int, Payload]:
        name = body.get("lora_name")
        if not name:
            raise ApiError(400, "'lora_name' needs to be provided to unload a LoRA adapter.", "InvalidUserInput")
        with self._lock:
            if self._adapters.pop(name, None) is None:
                raise ApiError(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        return 200, f"Success: LoRA adapter '{name}' removed successfully."

    def _chat(self, body: dict[str, Any]) -> tuple[int, Payload]:
        messages = _messages(body.get("messages"))
        if body.get("stream"):
            raise ApiError(400, "The stand-in doesn't stream; send stream=false.", "BadRequestError", "stream")
        limit = self.spec.max_new_tokens
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < limit):
            message = f"The stand-in generates up to {limit} tokens; ask for max_tokens >= {limit}."
            raise ApiError(400, message, "BadRequestError", "max_tokens")
        model = body.get("model") or self.served_model
        adapter = None if model == self.served_model else self._adapter(model)
        try:
            gen = self.engine.generate(messages, adapter, self.spec.name)
        except Exception as e:  # a 500 with the reason, as vLLM answers engine failures
            raise ApiError(500, f"generation failed: {e}", "InternalServerError") from e
        prompt = self._prompt_tokens(messages)
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": gen.text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": "length" if gen.new_tokens >= limit else "stop",
                    "stop_reason": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "total_tokens": prompt + gen.new_tokens,
                "completion_tokens": gen.new_tokens,
            },
        }

    def _adapter(self, model: str) -> AdapterRef:
        with self._lock:
            ref = self._adapters.get(model)
        if ref is None:
            raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
        return ref

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt length in tokens, as vLLM reports it in ``usage`` (the model's own tokenizer)."""
        with self._lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                from training.weights import resolve

                self._tokenizer = AutoTokenizer.from_pretrained(resolve(self.spec, self.config))
            tokenizer = self._tokenizer
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        return len(ids)


def _card(model_id: str, root: str, parent: str | None) -> dict[str, Any]:
    """A /v1/models entry in vLLM's shape (no max_model_len: the stand-in has no context limit of its own)."""
    return {
        "id": model_id,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "vllm",
        "root": root,
        "parent": parent,
    }


def _messages(value: Any) -> list[dict[str, str]]:
    """The chat messages, checked: a non-empty list of {"role": str, "content": str}."""

    def valid(m: Any) -> bool:
        return isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)

    if not isinstance(value, list) or not value or not all(valid(m) for m in value):
        raise ApiError(400, "messages must be a non-empty list of {role, content} strings.", "BadRequestError")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _handler_for(server: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlparse(self.path).path
            status, payload = server.handle(method, path, body, self.headers.get("Authorization"))
            if isinstance(payload, str):
                data, ctype = payload.encode(), "text/plain; charset=utf-8"
            else:
                data, ctype = json.dumps(payload).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """``python -m answering.standin``: serve until interrupted."""
    config = Config.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m answering.standin", description="A stand-in for vLLM's OpenAI-compatible server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=config.answer_model, help="orgtune model to serve (default: %(default)s)")
    parser.add_argument("--api-key", default=config.inference_api_key, help="require this bearer token")
    args = parser.parse_args(argv)
    server = StandinServer(config, args.model, api_key=args.api_key, host=args.host, port=args.port).start()
    print(f"serving {server.served_model} at {server.url} (ORGTUNE_INFERENCE_URL={server.url}); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
