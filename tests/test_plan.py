"""Plans come from the architecture on the meta device, never from hard-coded numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs.hardware import Hardware
from training.dataset import Dataset, plan_for
from training.models import MODELS, UnknownModel, get_model
from training.plan import parameter_counts

H100 = Hardware("cuda", "NVIDIA H100 80GB HBM3", 16, 128 * 2**30, 80 * 2**30, 600_000.0)
LAPTOP = Hardware("cpu", "CPU", 2, 24 * 2**30, None, 160.0)


@pytest.mark.parametrize(
    ("model", "total", "trainable"),
    [
        ("mistral", 7_241_732_096, 41_943_040),
        ("qwen", 3_085_938_688, 29_933_568),
        ("smollm2", 134_515_008, 4_884_480),
    ],
)
def test_parameter_counts_from_the_architecture(model: str, total: int, trainable: int) -> None:
    counts = parameter_counts(MODELS[model])
    assert (counts.total, counts.trainable) == (total, trainable)


def test_mistral_plan_on_a_gpu_worker() -> None:
    plan = plan_for(Dataset([], {}, [], []), get_model("mistral"), H100)
    assert plan.trainable_params == 41_943_040
    assert plan.adapter_bytes == 41_943_040 * 2  # bf16 adapter, ~84 MB
    assert round(plan.trainable_percent, 2) == 0.58
    assert 14e9 < plan.peak_memory_bytes < 24e9  # weights + LoRA state + checkpointed activations
    assert not any("needs a GPU" in w for w in plan.warnings)


def test_gpu_models_warn_on_a_cpu_worker() -> None:
    plan = plan_for(Dataset([], {}, [], []), get_model("qwen"), LAPTOP)
    assert any("needs a GPU" in w for w in plan.warnings)


def test_unknown_models_list_the_choices() -> None:
    with pytest.raises(UnknownModel, match="mistral, qwen, smollm2"):
        get_model("llama-9000")


def test_plan_command_prints_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ORGTUNE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "orgtune", "plan", "mistral", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["model"] == "mistral" and plan["base_model"] == "mistralai/Mistral-7B-Instruct-v0.2"
    assert plan["total_params"] == 7_241_732_096 and plan["trainable_params"] == 41_943_040
    assert plan["adapter_bytes"] > 0
