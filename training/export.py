"""Exporting a trained adapter version for use outside orgtune: PEFT, merged, or Ollama.

:func:`run_export` writes one directory (built beside its target, then renamed into place) and checks it by
loading it back: the export, loaded fresh, must answer a fixed prompt greedily as the original adapter does.
Refusals (unknown format, an architecture Ollama can't adapt, an untranslatable chat template) raise
:class:`ExportError` and leave nothing behind. torch, transformers and peft are imported inside functions
only, so jobs can import this module in a worker parent without initialising CUDA.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from orgtune.config import Config
from training.models import ModelSpec
from training.prompts import SYSTEM, Passage, chat

FORMATS = ("peft", "merged", "ollama")
PEFT_FILES = ("adapter_model.safetensors", "adapter_config.json")  # what peft's save_pretrained writes
METADATA = "orgtune.json"  # training.run.METADATA; not imported because training.run imports torch

OLLAMA_BASES = {"mistral": "mistral:7b-instruct-v0.2-fp16", "smollm2": "smollm2:135m-instruct-fp16"}
"""Ollama library tags of the unquantised bases (an adapter must sit on the weights it was trained on). A model
without a tag here (the test model) gets its base weights copied into the export and named by ``FROM ./base``."""

OLLAMA_ADAPTER_ARCHITECTURES = frozenset(f"{n}ForCausalLM" for n in ("Llama", "Mistral", "Mixtral", "Gemma", "Gemma2"))
"""Ollama imports safetensors LoRA adapters only for Llama, Mistral and Gemma models (docs.ollama.com/import)."""

MERGED_MIN_AGREEMENT = 0.9
"""Merging reorders the arithmetic ((W + BA)x, not Wx + B(Ax)) and may round to bf16, so a near-tie in greedy
decoding can flip a late token; below 90% matching tokens the merge is wrong, not rounded."""

CHECK_QUESTION = "How many vacation days do full-time employees get?"
CHECK_PASSAGES = (Passage("handbook.md", "Time off", "Full-time employees get 25 vacation days a year."),)

# Ollama's legacy System/Prompt/Response templates: for a system message and one user turn they render exactly
# what the Hugging Face chat templates render (check_modelfile verifies it on every export).
OLLAMA_TEMPLATES = {
    "chatml": "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>"
    "user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
    "inst": "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }} [/INST]{{ .Response }}</s>",
}
OLLAMA_STOPS = {"chatml": ("<|im_start|>", "<|im_end|>"), "inst": ("[INST]", "[/INST]", "</s>")}
MODELFILE_INSTRUCTIONS = frozenset({"FROM", "ADAPTER", "TEMPLATE", "PARAMETER", "SYSTEM", "LICENSE", "MESSAGE"})
OLLAMA_PARAMETERS = frozenset({"stop", "temperature", "num_ctx", "num_predict", "seed", "top_k", "top_p", "min_p"})


class ExportError(RuntimeError):
    """The export can't be made as asked; the message says why and what to do instead."""


class OllamaUnsupported(ExportError):
    """Ollama can't load a LoRA adapter for this model's architecture; ``--format merged`` works instead."""


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export directory
    bytes: int


@dataclass(frozen=True)
class Check:
    """The round trip: the original adapter's answer against the exported artifact's, on the same prompt."""

    passed: bool
    question: str
    reference: str
    exported: str
    token_agreement: float
    detail: str


@dataclass(frozen=True)
class ExportResult:
    format: str
    out_dir: Path
    version: int | None
    model: str
    base_model: str
    files: tuple[ExportedFile, ...]
    check: Check
    ollama_name: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def usage(self) -> str:
        return usage(self.format, self.out_dir, self.base_model, self.ollama_name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"], data["total_bytes"], data["usage"] = str(self.out_dir), self.total_bytes, self.usage
        return data


@dataclass(frozen=True)
class _Job:
    adapter_dir: Path
    spec: ModelSpec
    config: Config
    dest: Path  # the temporary directory being written
    target: Path  # where it is renamed to (READMEs name it)
    version: int | None
    ollama_name: str
    device: str


def ensure_exportable(spec: ModelSpec, fmt: str) -> None:
    """ExportError for an unknown format, OllamaUnsupported for an architecture Ollama can't adapt (no weights read)."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format `{fmt}`. Choose one of: {', '.join(FORMATS)}.")
    arch = (json.loads(spec.architecture_path.read_text()).get("architectures") or ["unknown"])[0]
    if fmt == "ollama" and arch not in OLLAMA_ADAPTER_ARCHITECTURES:
        raise OllamaUnsupported(
            f"Ollama can't load a LoRA adapter for `{spec.name}` ({spec.base_model}, a {arch} model): it takes "
            "safetensors adapters only for Llama, Mistral and Gemma models. Export with `--format merged` instead: "
            "Ollama imports that folder as a full model (a Modelfile with `FROM ./<merged folder>`)."
        )


def run_export(
    adapter_dir: Path,
    spec: ModelSpec,
    config: Config,
    fmt: str,
    out_dir: Path,
    *,
    version: int | None = None,
    ollama_name: str | None = None,
    overwrite: bool = False,
    device: str | None = None,
) -> ExportResult:
    """Write ``out_dir`` in format ``fmt`` from the adapter in ``adapter_dir`` and check it by loading it back.

    ``out_dir`` must be missing or empty unless ``overwrite`` (then it is replaced whole). A failed check is
    reported in ``result.check`` with the files kept for inspection; exceptions are for refusals and errors.
    """
    ensure_exportable(spec, fmt)
    missing = [name for name in PEFT_FILES if not (adapter_dir / name).is_file()]
    if missing:
        raise ExportError(f"The adapter folder {adapter_dir} is incomplete (missing {', '.join(missing)}).")
    target = out_dir.resolve()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target} already exists and isn't empty; choose another --out folder.")
    from training.run import pick_device

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    name = re.sub(r"[^a-z0-9._-]+", "-", (ollama_name or f"orgtune-{spec.name}-v{version or 0}").lower())
    job = _Job(adapter_dir, spec, config, tmp, target, version, name.strip("-"), device or pick_device())
    try:
        check = _WRITERS[fmt](job)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    paths = sorted(p for p in target.rglob("*") if p.is_file())
    files = tuple(ExportedFile(str(p.relative_to(target)), p.stat().st_size) for p in paths)
    named = job.ollama_name if fmt == "ollama" else None
    return ExportResult(fmt, target, version, spec.name, spec.base_model, files, check, named)


def _export_peft(job: _Job) -> Check:
    _copy_adapter(job, job.dest)
    if (job.adapter_dir / METADATA).is_file():  # provenance: data hash, metrics
        shutil.copy2(job.adapter_dir / METADATA, job.dest / METADATA)
    (job.dest / "README.md").write_text(_readme(job, "peft"))
    return _check_adapter(job, job.dest)


def _export_merged(job: _Job) -> Check:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.weights import torch_dtype

    model, tokenizer, reference = _reference(job)
    merged = model.merge_and_unload()
    merged.to(getattr(torch, job.spec.dtype))  # the spec's serving dtype, whatever this device computed in
    merged.save_pretrained(job.dest, safe_serialization=True)
    tokenizer.save_pretrained(job.dest)  # with the chat template
    (job.dest / "README.md").write_text(_readme(job, "merged"))
    del model, merged
    gc.collect()  # the fresh copy loads next: free this one first (a 7B model twice may not fit)
    fresh = AutoModelForCausalLM.from_pretrained(job.dest, dtype=torch_dtype(job.spec, job.device))
    fresh.to(job.device)  # type: ignore[arg-type]
    fresh.eval()
    fresh_tokenizer = AutoTokenizer.from_pretrained(job.dest)
    if not fresh_tokenizer.chat_template:
        return _compare(reference, "", fresh_tokenizer, None, "the exported tokenizer has no chat template")
    return _compare(reference, _answer(fresh, fresh_tokenizer, job.spec), fresh_tokenizer, MERGED_MIN_AGREEMENT)


def _export_ollama(job: _Job) -> Check:
    from transformers import AutoTokenizer

    from training.weights import resolve

    base_dir = resolve(job.spec, job.config)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    kind = template_kind(tokenizer.chat_template)
    _copy_adapter(job, job.dest / "adapter")
    base = OLLAMA_BASES.get(job.spec.name)
    if base is None:  # no library tag: ship the exact base weights beside the adapter
        shutil.copytree(base_dir, job.dest / "base")
        base = "./base"
    (job.dest / "Modelfile").write_text(modelfile(base, kind, job.spec, job.version))
    (job.dest / "README.md").write_text(_readme(job, "ollama"))
    problems = check_modelfile(job.dest, tokenizer)
    check = _check_adapter(job, job.dest / "adapter")
    if problems:
        return replace(check, passed=False, detail="; ".join([*problems, check.detail]))
    return replace(check, detail=f"the Modelfile parses and renders the model's prompt; {check.detail}")


_WRITERS = {"peft": _export_peft, "merged": _export_merged, "ollama": _export_ollama}


def _copy_adapter(job: _Job, dest: Path) -> None:
    """The peft files, with the base named by its Hugging Face id instead of this worker's local path."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(job.adapter_dir / PEFT_FILES[0], dest / PEFT_FILES[0])
    config = json.loads((job.adapter_dir / PEFT_FILES[1]).read_text())
    config["base_model_name_or_path"] = job.spec.base_model
    (dest / PEFT_FILES[1]).write_text(json.dumps(config, indent=2, sort_keys=True))


def _answer(model: Any, tokenizer: Any, spec: ModelSpec) -> str:
    """The greedy answer to the fixed check prompt, generated exactly as answering generates."""
    from training.generate import generate

    return generate(model, tokenizer, chat(CHECK_QUESTION, CHECK_PASSAGES), spec.max_new_tokens)[0]


def _reference(job: _Job) -> tuple[Any, Any, str]:
    """(base + the original adapter, tokenizer, its answer): what every export must reproduce."""
    from peft import PeftModel

    from training.weights import load

    base, tokenizer = load(job.spec, job.config, job.device)
    model = PeftModel.from_pretrained(base, str(job.adapter_dir))
    model.eval()
    return model, tokenizer, _answer(model, tokenizer, job.spec)


def _check_adapter(job: _Job, exported: Path) -> Check:
    """The exported adapter, loaded fresh onto the same base weights, must answer exactly as the original."""
    from peft import PeftModel

    model, tokenizer, reference = _reference(job)
    base = model.unload()  # the base without LoRA layers: no second copy of the weights in memory
    fresh = PeftModel.from_pretrained(base, str(exported))
    fresh.eval()
    check = _compare(reference, _answer(fresh, tokenizer, job.spec), tokenizer, None)
    del model, fresh, base
    gc.collect()
    return check


def _compare(reference: str, exported: str, tokenizer: Any, min_agreement: float | None, why: str = "") -> Check:
    """Identical text passes; with ``min_agreement``, enough matching tokens pass too (merged: rounding)."""
    agreement = token_agreement(tokenizer, reference, exported)
    identical = reference == exported and not why
    passed = identical or (min_agreement is not None and not why and agreement >= min_agreement)
    need = f"passes from {min_agreement:.0%}" if min_agreement is not None else "must be identical"
    detail = "same answer as the original adapter" if identical else why or f"{agreement:.0%} of tokens agree ({need})"
    return Check(passed, CHECK_QUESTION, reference, exported, agreement, detail)


def token_agreement(tokenizer: Any, a: str, b: str) -> float:
    """Share of positions where the two texts' tokens match, over the longer one (1.0 for two empty texts)."""
    ta, tb = tokenizer.encode(a, add_special_tokens=False), tokenizer.encode(b, add_special_tokens=False)
    longest = max(len(ta), len(tb))
    return 1.0 if longest == 0 else sum(x == y for x, y in zip(ta, tb, strict=False)) / longest


def template_kind(chat_template: str | None) -> str:
    """Which translated template this model needs: ChatML (smollm2, qwen) or [INST] (mistral)."""
    for kind, marker in (("chatml", "<|im_start|>"), ("inst", "[INST]")):
        if chat_template and marker in chat_template:
            return kind
    raise ExportError(
        "This model's chat template has no Ollama translation in orgtune (only ChatML and [INST] ones do). "
        "Export with `--format merged` and write the Modelfile's TEMPLATE by hand."
    )


def modelfile(base: str, kind: str, spec: ModelSpec, version: int | None) -> str:
    stops = "".join(f'PARAMETER stop "{s}"\n' for s in OLLAMA_STOPS[kind])
    return (
        f"# orgtune export: {spec.name} ({spec.base_model}) v{version or '?'}\nFROM {base}\nADAPTER ./adapter\n"
        f'TEMPLATE """{OLLAMA_TEMPLATES[kind]}"""\n{stops}PARAMETER temperature 0\nSYSTEM """{SYSTEM}"""\n'
    )


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, argument) pairs; triple-quoted arguments may span lines. ExportError on anything else."""
    pairs: list[tuple[str, str]] = []
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, arg = line.strip().partition(" ")
        if word.upper() not in MODELFILE_INSTRUCTIONS:
            raise ExportError(f"Modelfile: unknown instruction {word!r}")
        if arg.startswith('"""'):
            arg = arg[3:]
            while not arg.endswith('"""'):
                more = next(lines, None)
                if more is None:
                    raise ExportError(f"Modelfile: unterminated triple quote after {word}")
                arg += "\n" + more
            arg = arg[:-3]
        pairs.append((word.upper(), arg))
    return pairs


def render_template(template: str, system: str, prompt: str) -> str:
    """What Ollama renders to generate: the template cut at ``{{ .Response }}``, ifs and fields filled (no nesting)."""
    values = {"System": system, "Prompt": prompt}
    head = template.split("{{ .Response }}")[0]
    head = re.sub(
        r"\{\{ if \.(\w+) \}\}(.*?)\{\{ end \}\}", lambda m: m[2] if values.get(m[1]) else "", head, flags=re.S
    )
    return re.sub(r"\{\{ \.(\w+) \}\}", lambda m: values.get(m[1], ""), head)


def check_modelfile(root: Path, tokenizer: Any) -> list[str]:
    """Problems with ``root/Modelfile`` (none when sound): instructions, paths, parameters, system, template."""
    try:
        pairs = parse_modelfile((root / "Modelfile").read_text())
    except ExportError as exc:
        return [str(exc)]
    found: dict[str, list[str]] = {}
    for word, arg in pairs:
        found.setdefault(word, []).append(arg)
    problems = [f"it needs exactly one {w}" for w in ("FROM", "ADAPTER", "TEMPLATE") if len(found.get(w, [])) != 1]
    if problems:
        return problems
    (base,), (adapter,), (template,) = found["FROM"], found["ADAPTER"], found["TEMPLATE"]
    if base.startswith("./") and not (root / base / "config.json").is_file():
        problems.append(f"FROM {base} has no config.json")
    if not all((root / adapter / f).is_file() for f in PEFT_FILES):
        problems.append(f"ADAPTER {adapter} lacks the peft files")
    names = {arg.split(" ", 1)[0] for arg in found.get("PARAMETER", [])}
    problems += [f"unknown PARAMETER {n}" for n in sorted(names - OLLAMA_PARAMETERS)]
    if found.get("SYSTEM") != [SYSTEM]:
        problems.append("SYSTEM is not orgtune's system prompt")
    messages = chat(CHECK_QUESTION, CHECK_PASSAGES)
    hf = str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    if "bos_token" in (tokenizer.chat_template or "") and tokenizer.bos_token:  # Ollama's tokenizer adds BOS, and
        hf = hf.removeprefix(tokenizer.bos_token).lstrip(" ")  # SentencePiece the space after it, itself
    if render_template(template, SYSTEM, messages[1]["content"]) != hf:
        problems.append("TEMPLATE renders a different prompt than the model's chat template")
    return problems


def usage(fmt: str, where: Path, base_model: str, ollama_name: str | None = None) -> str:
    """How to use an export in ``where``, in a few lines (README, command line, Slack)."""
    if fmt == "ollama":
        return f"cd {where}\nollama create {ollama_name} -f Modelfile\nollama run {ollama_name}"
    if fmt == "merged":
        load = f'.from_pretrained("{where}")'
        imports = "from transformers import AutoModelForCausalLM, AutoTokenizer"
        return f"{imports}\nmodel = AutoModelForCausalLM{load}\ntokenizer = AutoTokenizer{load}"
    return (
        "from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n"
        f'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("{base_model}"), "{where}")'
    )


_README_EXTRA = {"merged": "Ollama can import this folder as a full model: a Modelfile with `FROM .` here.\n\n"}


def _readme(job: _Job, fmt: str) -> str:
    spec, version = job.spec, f"v{job.version}" if job.version else "(no version)"
    how, lang = usage(fmt, job.target, spec.base_model, job.ollama_name), "sh" if fmt == "ollama" else "python"
    return (
        f"# orgtune export: {spec.name} {version} ({fmt})\n\nA LoRA adapter trained by orgtune on a Slack channel's "
        f"documents{' and merged into its base model' if fmt == 'merged' else ''}.\n\n- base model: "
        f"`{spec.base_model}` (orgtune `{spec.name}`, {spec.dtype})\n- version: {version}\n\n"
        f"Use it:\n\n```{lang}\n{how}\n```\n\n{_README_EXTRA.get(fmt, '')}"
        "It answers best in the prompt format it was trained on: the system prompt below, then a user message "
        "`Passages:\\n[1] <document> — <section>\\n<text>\\n\\nQuestion: <question>`.\n\n"
        f"System prompt: {SYSTEM}\n"
    )
