"""The remote answer backend against the vLLM stand-in: same answers as the local engine, adapters loaded once.

The stand-in (answering/standin.py) speaks vLLM's OpenAI-compatible API with runtime LoRA
loading and generates with the local Engine on the hidden `tiny` model; the adapters here
are real peft adapters with seeded LoRA weights, so each one answers differently.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from answering import engine as engine_module
from answering.engine import AdapterRef, Engine, process_engine
from answering.remote import InferenceServerError, RemoteEngine, adapter_name
from answering.standin import StandinServer
from orgtune import defaults
from orgtune.config import Config, ConfigError
from storage.models import Question
from tests.conftest import SAMPLES, Stack
from training import prompts, weights
from training.models import MODELS, get_model

TINY = get_model("tiny")
LOAD, CHAT = "/v1/load_lora_adapter", "/v1/chat/completions"


def _messages(question: str = "How many vacation days do we get?") -> list[dict[str, str]]:
    passage = prompts.Passage("benefits.md", "Vacation", "Everyone gets 25 vacation days per year.")
    return prompts.chat(question, [passage])


def _make_adapter(config: Config, out: Path, seed: int) -> Path:
    """A real LoRA adapter for `tiny`: peft's init plus seeded random B weights (B starts at zero)."""
    import torch
    from peft import get_peft_model

    from training.weights import load

    base, _ = load(TINY, config)
    torch.manual_seed(seed)
    model = get_peft_model(base, TINY.lora.peft_config())
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Config:
    return Config(data_dir=tmp_path_factory.mktemp("remote-data"), models_dir_override=models_dir)


@pytest.fixture(scope="module")
def adapters(tiny_config: Config, tmp_path_factory: pytest.TempPathFactory) -> list[AdapterRef]:
    root = tmp_path_factory.mktemp("adapters")
    return [AdapterRef(i, "tiny", _make_adapter(tiny_config, root / f"a{i}", seed=i)) for i in (1, 2)]


@pytest.fixture(scope="module")
def server_engine(tiny_config: Config) -> Engine:
    """The stand-ins' engine, shared so the base loads once for the module."""
    return Engine(tiny_config, device="cpu")


@pytest.fixture(scope="module")
def reference(tiny_config: Config) -> Engine:
    """A separate local engine: what the answer worker would say without a server."""
    return Engine(tiny_config, device="cpu")


@pytest.fixture
def standin(tiny_config: Config, server_engine: Engine) -> Iterator[StandinServer]:
    with StandinServer(tiny_config, "tiny", engine=server_engine) as server:
        yield server


def _loads_of(server: StandinServer, name: str) -> list[int]:
    return [r.status for r in server.calls_to(LOAD) if r.body["lora_name"] == name]


def test_an_adapter_answers_as_the_local_engine_does(
    standin: StandinServer, reference: Engine, adapters: list[AdapterRef]
) -> None:
    remote = RemoteEngine(standin.url)
    got = remote.generate(_messages(), adapters[0], "smollm2")
    want = reference.generate(_messages(), adapters[0], "smollm2")
    assert (got.text, got.new_tokens, got.model, got.adapter_id) == (want.text, want.new_tokens, "tiny", 1)
    assert got.text and got.new_tokens > 0
    [load] = standin.calls_to(LOAD)
    assert load.body == {"lora_name": "orgtune-a1", "lora_path": str(adapters[0].path)}
    [chat] = standin.calls_to(CHAT)
    assert chat.body["model"] == "orgtune-a1" and chat.body["temperature"] == 0
    assert chat.body["max_tokens"] == TINY.max_new_tokens and chat.body["messages"] == _messages()
    assert remote.served_models() == [TINY.base_model, "orgtune-a1"]


def test_each_adapter_answers_for_itself_and_is_loaded_once(
    standin: StandinServer, reference: Engine, adapters: list[AdapterRef]
) -> None:
    remote = RemoteEngine(standin.url)
    asks = [adapters[i % 2] for i in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # the answer worker may run questions concurrently
        answers = list(pool.map(lambda a: remote.generate(_messages(), a, "tiny"), asks))
    by_adapter = {a.adapter_id: {g.text for g, x in zip(answers, asks, strict=True) if x == a} for a in adapters}
    assert all(len(texts) == 1 for texts in by_adapter.values()), by_adapter
    assert by_adapter[1] != by_adapter[2]
    assert reference.generate(_messages(), None, "tiny").text not in by_adapter[1] | by_adapter[2]
    for a in adapters:
        assert by_adapter[a.adapter_id] == {reference.generate(_messages(), a, "tiny").text}
        assert _loads_of(standin, adapter_name(a)) == [200]
    assert remote.adapter_loads == 2 and remote.loads == 0
    assert sorted(r.body["model"] for r in standin.calls_to(CHAT)) == ["orgtune-a1"] * 3 + ["orgtune-a2"] * 3


def test_without_an_adapter_the_base_model_is_asked_for(standin: StandinServer, reference: Engine) -> None:
    got = RemoteEngine(standin.url).generate(_messages(), None, "tiny")
    assert got.text == reference.generate(_messages(), None, "tiny").text
    assert got.adapter_id is None and got.model == "tiny"
    assert [r.body["model"] for r in standin.calls_to(CHAT)] == ["orgtune/tiny-random-llama"]
    assert standin.calls_to(LOAD) == []


def test_after_a_server_restart_the_adapter_is_loaded_again(standin: StandinServer, adapters: list[AdapterRef]) -> None:
    remote = RemoteEngine(standin.url)
    first = remote.generate(_messages(), adapters[1], "tiny")
    standin.forget_adapters()  # what a restarted vLLM knows
    again = remote.generate(_messages(), adapters[1], "tiny")
    assert again.text == first.text
    assert _loads_of(standin, "orgtune-a2") == [200, 200]
    assert [r.status for r in standin.calls_to(CHAT)] == [200, 404, 200]


def test_an_adapter_another_worker_loaded_counts_as_loaded(standin: StandinServer, adapters: list[AdapterRef]) -> None:
    RemoteEngine(standin.url).generate(_messages(), adapters[0], "tiny")
    RemoteEngine(standin.url).generate(_messages(), adapters[0], "tiny")  # a second worker, same server
    assert _loads_of(standin, "orgtune-a1") == [200, 400]


def test_the_api_key_is_sent_as_bearer_and_never_shown(
    tiny_config: Config, server_engine: Engine, adapters: list[AdapterRef]
) -> None:
    key = "sk-test-" + secrets.token_hex(8)
    with StandinServer(tiny_config, "tiny", engine=server_engine, api_key=key) as server:
        remote = RemoteEngine(server.url, api_key=key)
        remote.generate(_messages(), adapters[0], "tiny")
        assert {r.authorization for r in server.requests} == {f"Bearer {key}"}

        wrong = "sk-wrong-" + secrets.token_hex(8)
        with pytest.raises(InferenceServerError) as refused:
            RemoteEngine(server.url, api_key=wrong).generate(_messages(), None, "tiny")
        text = str(refused.value)
        assert server.url in text and "401" in text and "ORGTUNE_INFERENCE_API_KEY" in text
        assert key not in text and wrong not in text and refused.value.status == 401

        missing = AdapterRef(99, "tiny", adapters[0].path.parent / "gone")
        with pytest.raises(InferenceServerError) as not_found:
            remote.generate(_messages(), missing, "tiny")
        text = str(not_found.value)
        assert "load_lora_adapter answered 404" in text and "ORGTUNE_ARTIFACTS_DIR" in text and key not in text
        assert not any(key in repr(r.response) for r in server.requests)


def test_an_unreachable_server_is_a_clear_error_without_credentials() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nothing listens
    remote = RemoteEngine(f"http://user:hunter2@127.0.0.1:{port}/v1", api_key="sk-secret", timeout=5)
    with pytest.raises(InferenceServerError, match=f"could not reach the inference server at http://127.0.0.1:{port}"):
        remote.generate(_messages(), None, "tiny")
    assert "hunter2" not in repr(remote) and "sk-secret" not in repr(remote)
    with pytest.raises(ConfigError, match="http"):
        RemoteEngine("file:///etc/passwd")


def test_process_engine_picks_the_server_when_a_url_is_configured(
    monkeypatch: pytest.MonkeyPatch, tiny_config: Config
) -> None:
    monkeypatch.setattr(engine_module, "_engine", None)
    remote = process_engine(tiny_config.with_(inference_url="http://gpu-1:8000/v1/", inference_api_key="k"))
    assert isinstance(remote, RemoteEngine) and remote.url == "http://gpu-1:8000/v1"
    assert process_engine(tiny_config) is remote  # one per process
    monkeypatch.setattr(engine_module, "_engine", None)
    assert isinstance(process_engine(tiny_config), Engine)


def test_the_local_engine_keeps_adapters_within_the_limit_across_base_models(
    tiny_config: Config, adapters: list[AdapterRef], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second base model: `tiny`'s weights under another name, so the engine holds two peft models.
    monkeypatch.setitem(MODELS, "tiny2", dataclasses.replace(TINY, name="tiny2"))
    tiny_weights = weights.resolve(TINY, tiny_config)
    for name in ("tiny", "tiny2"):
        (tmp_path / name).symlink_to(tiny_weights)
    monkeypatch.setattr(defaults, "MAX_LOADED_ADAPTERS", 2)
    engine = Engine(tiny_config.with_(models_dir_override=tmp_path), device="cpu")

    def held() -> dict[str, set[str]]:
        # What the peft models themselves hold, not the engine's bookkeeping.
        return {base: set(model.peft_config) - {"_none"} for base, (model, _) in engine._bases.items()}

    # Two of tiny's, then two of tiny2's: the oldest two (on tiny) are evicted while tiny2 is in use.
    refs = [AdapterRef(10 + i, base, adapters[i % 2].path) for i, base in enumerate(["tiny", "tiny", "tiny2", "tiny2"])]
    first = [engine.generate(_messages(), ref, "tiny").text for ref in refs]
    assert held() == {"tiny": set(), "tiny2": {"a12", "a13"}}

    again = engine.generate(_messages(), refs[0], "tiny")  # evicted, so loaded again, evicting a12 from tiny2
    assert again.text == first[0] and again.adapter_id == 10
    assert held() == {"tiny": {"a10"}, "tiny2": {"a13"}}
    assert engine.loads == 2


def test_a_mention_is_answered_through_the_server(
    stack: Stack, server_engine: Engine, adapters: list[AdapterRef]
) -> None:
    """Bot -> answer worker (ORGTUNE_INFERENCE_URL set) -> stand-in, with the channel's adapter; no local base load."""
    shared = stack.driver.share_file(
        "C0A", "U0ALICE", "benefits.md", (SAMPLES / "handbook" / "benefits.md").read_bytes()
    )
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    adapter_id, path = _install_adapter(stack, adapters[0].path)
    with StandinServer(stack.config, "tiny", engine=server_engine) as server:
        stack.config = stack.config.with_(inference_url=server.url, answer_model="tiny")
        stack.start_answerer()
        msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
        stack.ws.wait_for(
            lambda: [m for m in stack.ws.replies("C0A", msg.ts) if m.user == stack.ws.bot_user_id], timeout=120
        )
        [load] = server.calls_to(LOAD)
        assert load.body == {"lora_name": f"orgtune-a{adapter_id}", "lora_path": str(path)}
        [chat] = server.calls_to(CHAT)
        assert chat.status == 200 and chat.body["model"] == f"orgtune-a{adapter_id}"
    with stack.db.session() as s:
        [q] = s.scalars(select(Question)).all()
        assert q.status == "answered" and q.adapter_id == adapter_id and q.model == "tiny"
        assert q.generated == chat.response["choices"][0]["message"]["content"].strip()  # type: ignore[index]
    assert "for answering" not in stack.worker_output()  # the worker never loaded a base model


def _install_adapter(stack: Stack, source: Path) -> tuple[int, Path]:
    """Make ``source`` #alpha's active adapter (v1), as a finished training run would."""
    from storage import runs
    from storage.channels import ChannelKey
    from storage.models import RunStatus

    relative = Path("adapters") / f"remote-{time.time_ns()}"
    target = stack.config.artifacts_dir / relative
    shutil.copytree(source, target)
    key = ChannelKey(stack.ws.team_id, "C0A")
    with stack.db.session() as s:
        run = runs.create_run(s, key, model="tiny", base_model=TINY.base_model, requested_by="U0ALICE")
        assert run is not None
        runs.set_status(run, RunStatus.DONE)
        adapter = runs.add_adapter(
            s,
            run,
            model="tiny",
            base_model=TINY.base_model,
            path=str(relative),
            size_bytes=1,
            trainable_params=1,
            data_hash="0" * 64,
        )
        runs.activate(s, key, adapter)
        return adapter.id, target
