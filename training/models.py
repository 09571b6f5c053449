"""The model sheet: which base models orgtune trains, with per-model defaults.

LoRA is the same for every model (the brief's config); what differs is where the
weights come from, the dtype, and how much data and compute a run uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

ARCHITECTURES = Path(__file__).parent / "architectures"

LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA branch"})
    bias: str = field(default="none", metadata={"help": "which biases train: none"})
    target_modules: tuple[str, ...] = field(default=LORA_TARGET_MODULES, metadata={"help": "projections adapted"})

    def peft_config(self):  # type: ignore[no-untyped-def]
        from peft import LoraConfig, TaskType

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            bias=self.bias,  # type: ignore[arg-type]
            task_type=TaskType.CAUSAL_LM,
            target_modules=list(self.target_modules),
        )


@dataclass(frozen=True)
class ModelSpec:
    name: str = field(metadata={"help": "what users type: /train <name>"})
    base_model: str = field(metadata={"help": "Hugging Face id of the base model"})
    role: str = field(metadata={"help": "what the model is for"})
    architecture: str = field(metadata={"help": "config JSON under training/architectures (no weights)"})
    max_examples_per_doc: int = field(metadata={"help": "facts asked about per document, at most"})
    epochs: int = field(metadata={"help": "passes over the training examples"})
    batch_size: int = field(metadata={"help": "examples per optimizer step"})
    learning_rate: float = field(metadata={"help": "peak AdamW learning rate for the LoRA weights"})
    max_seq_len: int = field(metadata={"help": "longest tokenized example kept (prompt + answer)"})
    dtype: str = field(metadata={"help": "weights dtype for training and serving"})
    needs_gpu: bool = field(metadata={"help": "refuse CPU training unless the deployer allows it"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute for activation memory"})
    gpu_fast_path: bool = field(
        default=False, metadata={"help": "on CUDA: bf16 autocast for the LoRA matmuls and torch.compile'd layers"}
    )
    max_new_tokens: int = field(default=96, metadata={"help": "longest generated reply (quote and answer)"})
    phrasings: int = field(
        default=3, metadata={"help": "phrasings per fact in training (the rule's question plus paraphrases)"}
    )
    hidden: bool = field(default=False, metadata={"help": "not listed to users (test models)"})
    lora: LoraSettings = field(default_factory=LoraSettings)

    @property
    def architecture_path(self) -> Path:
        return ARCHITECTURES / self.architecture


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="mistral",
            base_model="mistralai/Mistral-7B-Instruct-v0.2",
            role="production",
            architecture="mistral-7b-instruct-v0.2.json",
            max_examples_per_doc=20,
            epochs=3,
            batch_size=2,
            learning_rate=2e-4,
            max_seq_len=1024,
            dtype="bfloat16",
            needs_gpu=True,
            gradient_checkpointing=True,
            gpu_fast_path=True,
        ),
        ModelSpec(
            name="qwen",
            base_model="Qwen/Qwen2.5-3B-Instruct",
            role="development / fast iteration",
            architecture="qwen2.5-3b-instruct.json",
            max_examples_per_doc=12,
            epochs=2,
            batch_size=4,
            learning_rate=2e-4,
            max_seq_len=1024,
            dtype="bfloat16",
            needs_gpu=True,
            gradient_checkpointing=True,
            gpu_fast_path=True,
        ),
        ModelSpec(
            name="smollm2",
            base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
            role="runs anywhere, on CPU; the default for trying orgtune",
            architecture="smollm2-135m-instruct.json",
            max_examples_per_doc=8,
            epochs=2,
            batch_size=4,
            learning_rate=5e-4,
            max_seq_len=768,
            dtype="float32",
            needs_gpu=False,
            max_new_tokens=120,
        ),
        ModelSpec(
            name="tiny",
            base_model="orgtune/tiny-random-llama",
            role="tests: a 2-layer random model with SmolLM2's tokenizer; learns fast, knows nothing",
            architecture="tiny-llama.json",
            max_examples_per_doc=4,
            epochs=2,
            batch_size=4,
            learning_rate=3e-3,
            max_seq_len=512,
            dtype="float32",
            needs_gpu=False,
            max_new_tokens=24,
            hidden=True,
        ),
    )
}

DEFAULT_MODEL = "smollm2"


class UnknownModel(ValueError):
    """The user named a model orgtune doesn't know; the message lists the choices."""


def get_model(name: str) -> ModelSpec:
    spec = MODELS.get(name.strip().lower())
    if spec is None:
        raise UnknownModel(f"I don't know the model `{name}`. Choose one of: {', '.join(public_names())}.")
    return spec


def budgeted(spec: ModelSpec, facts_per_document: int | None) -> ModelSpec:
    """``spec`` with the deployer's facts-per-document budget (ORGTUNE_FACTS_PER_DOCUMENT), when one is set."""
    return replace(spec, max_examples_per_doc=facts_per_document) if facts_per_document else spec


def public_names() -> list[str]:
    return [name for name, spec in MODELS.items() if not spec.hidden]
