"""`orgtune export`: real tiny-model adapters exported as peft, merged and ollama, each loaded back and compared.

The adapter is a real LoRA adapter on the tiny model (peft's own layers and files), with its B matrices set
from a seeded generator instead of by training, so it changes the model's answers in seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.runtime import Runtime
from orgtune.config import Config
from slackemu.state import Workspace
from storage import runs
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import RunStatus
from tests.conftest import TestDatabase
from training.export import (
    CHECK_PASSAGES,
    CHECK_QUESTION,
    OLLAMA_TEMPLATES,
    ExportError,
    OllamaUnsupported,
    check_modelfile,
    ensure_exportable,
    parse_modelfile,
    run_export,
    template_kind,
    token_agreement,
)
from training.models import get_model
from training.prompts import SYSTEM, chat

TINY = get_model("tiny")
KEY = ChannelKey("T-LOCAL", "C0EXP")

# Mistral-7B-Instruct-v0.2's chat template (tokenizer_config.json), to check the [INST] translation without
# its 14 GB of weights.
MISTRAL_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('After the optional system message, conversation roles must alternate') }}{%- endif %}"
    "{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}"
    "{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"
    "{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}"
    "{%- else %}{{- raise_exception('Only user and assistant roles are supported') }}{%- endif %}{%- endfor %}"
)


def _config(data_dir: Path, models_dir: Path) -> Config:
    return Config(data_dir=data_dir, models_dir_override=models_dir)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, str]:
    """(a saved LoRA adapter for the tiny model, the base model's answer to the check prompt without it)."""
    import torch
    from peft import get_peft_model

    from training.generate import generate
    from training.weights import load

    base, tokenizer = load(TINY, _config(tmp_path_factory.mktemp("data"), models_dir))
    base_answer = generate(base, tokenizer, chat(CHECK_QUESTION, CHECK_PASSAGES), TINY.max_new_tokens)[0]
    model = get_peft_model(base, TINY.lora.peft_config())
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # LoRA's B starts at zero (a no-op adapter); random B makes it change every answer
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    model.save_pretrained(out, safe_serialization=True)
    (out / "orgtune.json").write_text(json.dumps({"model": "tiny", "base_model": TINY.base_model}))
    return out, base_answer


@pytest.fixture
def config(tmp_path: Path, models_dir: Path, test_database: TestDatabase) -> Config:
    """No Redis: exports need only the database, the artifact directory and the weights."""
    return _config(tmp_path / "data", models_dir).with_(database_url_override=test_database.url)


def _answer_with(model, tokenizer) -> str:  # type: ignore[no-untyped-def]
    from training.generate import generate

    model.eval()
    return generate(model, tokenizer, chat(CHECK_QUESTION, CHECK_PASSAGES), TINY.max_new_tokens)[0]


def test_peft_export_loads_with_peft_model_and_answers_as_the_original(
    adapter: tuple[Path, str], config: Config, tmp_path: Path
) -> None:
    from peft import PeftModel

    from training.weights import load

    adapter_dir, base_answer = adapter
    result = run_export(adapter_dir, TINY, config, "peft", tmp_path / "peft", version=3, device="cpu")
    names = {f.path for f in result.files}
    assert names == {"README.md", "adapter_config.json", "adapter_model.safetensors", "orgtune.json"}
    assert all(f.bytes > 0 for f in result.files) and result.version == 3
    assert result.check.passed and result.check.exported == result.check.reference
    assert result.check.reference and result.check.reference != base_answer  # the adapter matters
    exported = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert exported["base_model_name_or_path"] == TINY.base_model  # not this machine's weights path
    readme = (tmp_path / "peft" / "README.md").read_text()
    assert TINY.base_model in readme and "v3" in readme and "PeftModel.from_pretrained(" in readme
    base, tokenizer = load(TINY, config)  # independently of the export's own check
    assert _answer_with(PeftModel.from_pretrained(base, tmp_path / "peft"), tokenizer) == result.check.reference


def test_merged_export_is_a_standalone_model_with_its_chat_template(
    adapter: tuple[Path, str], config: Config, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    result = run_export(adapter[0], TINY, config, "merged", out, version=1, device="cpu")
    names = {f.path for f in result.files}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= names
    # fp32 on a CPU: merging gives exactly the same greedy answer, no tolerance needed
    assert result.check.passed and result.check.token_agreement == 1.0
    assert result.check.exported == result.check.reference != adapter[1]
    model = AutoModelForCausalLM.from_pretrained(out)
    assert str(model.dtype) == "torch.float32" and not any("lora" in n for n, _ in model.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert "<|im_start|>" in tokenizer.chat_template
    assert _answer_with(model, tokenizer) == result.check.reference


def test_ollama_export_writes_a_modelfile_that_checks_out(
    adapter: tuple[Path, str], config: Config, tmp_path: Path
) -> None:
    out = tmp_path / "ollama"
    result = run_export(
        adapter[0], TINY, config, "ollama", out, version=2, ollama_name="Orgtune C0EXP v2", device="cpu"
    )
    names = {f.path for f in result.files}
    assert {"Modelfile", "README.md", "adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= names
    assert "base/model.safetensors" in names  # the test model has no Ollama library tag: its weights ship along
    pairs = parse_modelfile((out / "Modelfile").read_text())
    assert ("FROM", "./base") in pairs and ("ADAPTER", "./adapter") in pairs
    assert ("TEMPLATE", OLLAMA_TEMPLATES["chatml"]) in pairs and ("SYSTEM", SYSTEM) in pairs
    params = [arg for word, arg in pairs if word == "PARAMETER"]
    assert params == ['stop "<|im_start|>"', 'stop "<|im_end|>"', "temperature 0"]
    assert result.check.passed and "Modelfile parses" in result.check.detail, result.check.detail
    assert result.ollama_name == "orgtune-c0exp-v2"
    readme = (out / "README.md").read_text()
    assert "ollama create orgtune-c0exp-v2 -f Modelfile" in readme and "ollama run orgtune-c0exp-v2" in readme


def test_a_broken_modelfile_fails_the_check(adapter: tuple[Path, str], tmp_path: Path, models_dir: Path) -> None:
    from transformers import AutoTokenizer

    from training.weights import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve(TINY, _config(tmp_path, models_dir)))
    shutil.copytree(adapter[0], tmp_path / "adapter")
    (tmp_path / "Modelfile").write_text(
        f'FROM smollm2:135m-instruct-fp16\nADAPTER ./adapter\nTEMPLATE """{OLLAMA_TEMPLATES["inst"]}"""\n'
        f'PARAMETER stop "</s>"\nPARAMETER temprature 0\nSYSTEM """{SYSTEM}"""\n'
    )
    problems = check_modelfile(tmp_path, tokenizer)
    assert "unknown PARAMETER temprature" in problems
    assert "TEMPLATE renders a different prompt than the model's chat template" in problems
    with pytest.raises(ExportError, match="unknown instruction 'RUN'"):
        parse_modelfile("FROM x\nRUN make")
    with pytest.raises(ExportError, match="unterminated"):
        parse_modelfile('FROM x\nSYSTEM """never closed\n')


def test_the_inst_template_renders_mistrals_prompt(adapter: tuple[Path, str], tmp_path: Path, models_dir: Path) -> None:
    from transformers import AutoTokenizer

    from training.export import modelfile
    from training.weights import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve(TINY, _config(tmp_path, models_dir)))
    tokenizer.chat_template = MISTRAL_TEMPLATE  # Mistral's template, on a tokenizer we have
    assert template_kind(tokenizer.chat_template) == "inst"
    shutil.copytree(adapter[0], tmp_path / "adapter")
    (tmp_path / "Modelfile").write_text(modelfile("mistral:7b-instruct-v0.2-fp16", "inst", get_model("mistral"), 1))
    assert check_modelfile(tmp_path, tokenizer) == []
    with pytest.raises(ExportError, match="--format merged"):
        template_kind("{{ messages }}")


def test_ollama_refuses_qwen_and_suggests_merged(adapter: tuple[Path, str], config: Config, tmp_path: Path) -> None:
    with pytest.raises(OllamaUnsupported) as refused:
        run_export(adapter[0], get_model("qwen"), config, "ollama", tmp_path / "out", version=1, device="cpu")
    assert "Qwen2ForCausalLM" in str(refused.value) and "--format merged" in str(refused.value)
    assert not (tmp_path / "out").exists()  # refused before writing anything
    for name in ("mistral", "smollm2", "tiny"):
        ensure_exportable(get_model(name), "ollama")  # Mistral and Llama architectures: allowed
    ensure_exportable(get_model("qwen"), "merged")
    with pytest.raises(ExportError, match="Unknown export format"):
        ensure_exportable(TINY, "gguf")


def test_an_existing_folder_is_never_overwritten(adapter: tuple[Path, str], config: Config, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(ExportError, match="isn't empty"):
        run_export(adapter[0], TINY, config, "peft", tmp_path / "out", device="cpu")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_token_agreement() -> None:
    class Words:
        def encode(self, text: str, add_special_tokens: bool = False) -> list[str]:
            return text.split()

    assert token_agreement(Words(), "a b c d", "a b c d") == 1.0
    assert token_agreement(Words(), "a b c d", "a b x d") == 0.75
    assert token_agreement(Words(), "a b", "a b c d") == 0.5
    assert token_agreement(Words(), "", "") == 1.0


# --- from the database: the command line and the job ------------------------------------------


def add_version(config: Config, adapter_dir: Path, model: str = "tiny") -> int:
    """A finished run and its adapter row (files under the artifact directory), made the active version."""
    db = Database(config.database_url)
    db.upgrade()
    with db.session() as session:
        spec = get_model(model)
        run = runs.create_run(session, KEY, model=model, base_model=spec.base_model, requested_by=None, source="cli")
        assert run is not None
        runs.set_status(run, RunStatus.DONE)
        relative = Path(KEY.team_id) / KEY.channel_id / "runs" / str(run.id) / "adapter"
        shutil.copytree(adapter_dir, config.artifacts_dir / relative)
        row = runs.add_adapter(
            session,
            run,
            model=model,
            base_model=spec.base_model,
            path=str(relative),
            size_bytes=(adapter_dir / "adapter_model.safetensors").stat().st_size,
            trainable_params=0,
            data_hash="0" * 64,
            metrics=None,
        )
        runs.activate(session, KEY, row)
        return row.version


def orgtune_export(config: Config, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """``orgtune export ...`` in this process, through the real top-level parser."""
    from orgtune import cli, cli_export

    for name, value in config.to_env().items():
        monkeypatch.setenv(name, value)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "export" in sub.choices:
        return cli.main(["export", *argv])
    cli_export.add_parsers(sub, cli._channel_args)  # until orgtune/cli.py registers it
    args = parser.parse_args(["export", *argv])
    return int(args.func(Config.from_env(), args))


def test_cli_exports_the_active_version_as_json(
    adapter: tuple[Path, str],
    config: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert add_version(config, adapter[0]) == 1
    out = tmp_path / "exported"
    assert (
        orgtune_export(config, monkeypatch, "-c", KEY.channel_id, "--format", "peft", "--out", str(out), "--json") == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == 1 and result["format"] == "peft" and result["model"] == "tiny"
    assert result["out_dir"] == str(out.resolve()) and result["check"]["passed"] is True
    assert {f["path"] for f in result["files"]} >= {"adapter_model.safetensors", "adapter_config.json", "README.md"}
    assert result["total_bytes"] == sum(f["bytes"] for f in result["files"])
    assert "PeftModel.from_pretrained" in result["usage"]

    assert (
        orgtune_export(
            config,
            monkeypatch,
            "-c",
            KEY.channel_id,
            "--version",
            "v7",
            "--format",
            "peft",
            "--out",
            str(tmp_path / "x"),
        )
        == 1
    )
    assert "has no v7 (its versions: v1)" in capsys.readouterr().err
    assert orgtune_export(config, monkeypatch, "-c", "C0NONE", "--format", "merged", "--out", str(tmp_path / "y")) == 1
    assert "no trained version yet" in capsys.readouterr().err


@pytest.fixture
def slack_runtime(config: Config) -> Iterator[tuple[Runtime, Workspace]]:
    """The job's Runtime pointed at a Slack emulator; (runtime, workspace)."""
    from jobs.runtime import set_runtime
    from slackemu import SlackEmulator

    with SlackEmulator() as emulator:
        emulator.workspace.add_channel(KEY.channel_id, "exports")
        cfg = config.with_(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url)
        runtime = Runtime.from_config(cfg)
        runtime.db.upgrade()
        set_runtime(runtime)
        try:
            yield runtime, emulator.workspace
        finally:
            set_runtime(None)


def test_job_exports_into_the_artifacts_and_tells_the_channel(
    adapter: tuple[Path, str], config: Config, slack_runtime: tuple[Runtime, Workspace]
) -> None:
    from jobs.export import export_adapter

    ws = slack_runtime[1]
    add_version(config, adapter[0])
    assert export_adapter(KEY.team_id, KEY.channel_id, None, "ollama", None) == "done"
    folder = config.artifacts_dir / "exports" / "T-LOCAL-C0EXP" / "v1-ollama"
    assert (folder / "Modelfile").is_file() and (folder / "adapter" / "adapter_model.safetensors").is_file()
    text = ws.bot_messages(KEY.channel_id)[-1].text
    assert text.startswith(":package: Exported *v1*") and f"`{folder}`" in text
    assert "• `Modelfile` — " in text and "Checked by loading it back" in text
    assert "ollama create orgtune-c0exp-v1 -f Modelfile" in text and "ollama run orgtune-c0exp-v1" in text

    add_version(config, adapter[0], model="qwen")  # v2: a Qwen2 adapter row (its weights are never needed)
    assert export_adapter(KEY.team_id, KEY.channel_id, 2, "ollama", None) == "refused"
    text = ws.bot_messages(KEY.channel_id)[-1].text
    assert text.startswith(":warning: Not exported. Ollama can't load a LoRA adapter") and "--format merged" in text


def test_enqueue_export_targets_the_train_queue_with_a_timeout(
    redis_url: str, slack_runtime: tuple[Runtime, Workspace]
) -> None:
    from redis import Redis

    from jobs.export import enqueue_export
    from jobs.failures import on_job_failure
    from orgtune.defaults import EXPORT_JOB_TIMEOUT_S

    job = enqueue_export(Redis.from_url(redis_url), KEY, 3, "merged", "1712345678.000100")
    assert job.origin == "train" and job.timeout == EXPORT_JOB_TIMEOUT_S
    assert job.func_name == "jobs.export.export_adapter"
    assert job.args == (KEY.team_id, KEY.channel_id, 3, "merged", "1712345678.000100")
    assert job.id == "export-T-LOCAL-C0EXP-v3-merged-1712345678-000100"
    job.args = (KEY.team_id, KEY.channel_id, 3, "merged", None)  # the emulator has no such thread
    on_job_failure(job, None, TimeoutError, TimeoutError("JobTimeoutException"))  # the callback RQ calls
    text = slack_runtime[1].bot_messages(KEY.channel_id)[-1].text
    assert text.startswith(":x: Something went wrong on my side while exporting v3 as *merged*")
