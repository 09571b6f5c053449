"""`orgtune train --wait` leaves a loadable adapter that is the channel's active version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgtune.config import Config
from storage import runs
from storage.channels import ChannelKey
from storage.db import Database
from tests.conftest import SAMPLES
from tests.test_cli import orgtune

HANDBOOK = SAMPLES / "handbook"


def train_and_check(config: Config, model: str, files: list[str]) -> dict:  # type: ignore[type-arg]
    assert orgtune(config, "ingest", "-c", "C0CLI", *[str(HANDBOOK / f) for f in files]).returncode == 0
    done = orgtune(config, "train", "--channel", "C0CLI", model, "--wait", "--json", timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["version"] == 1
    assert result["loss_after"] < result["loss_before"]
    db = Database(config.database_url)
    with db.session() as s:
        adapter = runs.active_adapter(s, ChannelKey("T-LOCAL", "C0CLI"))
        assert adapter is not None and adapter.version == 1 and adapter.model == model
        path = config.artifacts_dir / adapter.path
    from peft import PeftModel

    from training.models import MODELS
    from training.weights import load

    base, _ = load(MODELS[model], config)
    PeftModel.from_pretrained(base, path)  # loadable
    listing = orgtune(config, "runs", "-c", "C0CLI").stdout
    assert f"#1 `{model}` — done" in listing
    return result


def test_train_wait_runs_here_without_a_worker(config: Config) -> None:
    """`config`: this test's data directory, database and private Redis (conftest)."""
    result = train_and_check(config, "tiny", ["benefits.md", "expenses.md"])
    assert result["accuracy_before"] is not None
    # A second version, then the version commands: list, roll back, refuse an unknown version.
    assert orgtune(config, "train", "-c", "C0CLI", "tiny", "--wait", timeout=600).returncode == 0
    listed = json.loads(orgtune(config, "adapters", "-c", "C0CLI", "--json").stdout)
    assert [(a["version"], a["active"]) for a in listed] == [(1, False), (2, True)]
    assert [d["name"] for d in listed[1]["documents"]] == ["benefits.md", "expenses.md"]
    assert Path(listed[0]["path"], "adapter_model.safetensors").is_file()
    used = orgtune(config, "use", "-c", "C0CLI", "v1")
    assert used.returncode == 0 and "assistant to v1 (`tiny`" in used.stdout
    assert "▶ v1" in orgtune(config, "adapters", "-c", "C0CLI").stdout
    wrong = orgtune(config, "use", "-c", "C0CLI", "7")
    assert wrong.returncode == 1 and "There is no v7" in wrong.stderr


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_train_smollm2_on_the_handbook(config: Config) -> None:
    """`config`: this test's data directory, database and private Redis (conftest)."""
    result = train_and_check(config, "smollm2", sorted(p.name for p in HANDBOOK.iterdir()))
    assert result["accuracy_after"] >= result["accuracy_before"]
