"""/train end to end: emulator, Redis, RQ workers, real transformers + peft training."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Adapter, RunStatus, TrainingRun
from tests.conftest import SAMPLES, Stack

HANDBOOK = SAMPLES / "handbook"


@pytest.fixture
def trained_stack(stack: Stack) -> Stack:
    """The stack with two handbook documents in #alpha and a worker on the train queue."""
    for name in ("benefits.md", "expenses.md"):
        shared = stack.driver.share_file("C0A", "U0ALICE", name, (HANDBOOK / name).read_bytes())
        assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.start_trainer()
    return stack


def _run(stack: Stack, channel: str = "C0A") -> TrainingRun | None:
    with stack.db.session() as s:
        return s.scalars(
            select(TrainingRun).where(TrainingRun.channel_id == channel).order_by(TrainingRun.id.desc())
        ).first()


def _progress_message(stack: Stack):  # type: ignore[no-untyped-def]
    return stack.ws.wait_for(
        lambda: next((m for m in stack.ws.bot_messages("C0A") if "*Training `" in m.text), None), timeout=60
    )


def _wait_status(stack: Stack, *statuses: str, timeout: float = 240) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _run(stack)
        if run is not None and run.status in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run never reached {statuses}: {_run(stack)}\n{stack.worker_output()[-3000:]}")


def _ephemerals(stack: Stack) -> list[str]:
    return [m.text for m in stack.ws.messages if m.ephemeral_to]


def test_train_tiny_model_from_plan_to_results(trained_stack: Stack) -> None:
    stack = trained_stack
    assert stack.driver.slash("/train", "tiny", "C0A", "U0ALICE").status == 200
    message = _progress_message(stack)
    assert "tiny" in message.text and "trainable" in message.text  # the plan, up front
    assert any(e.get("action_id") == "orgtune_cancel_run" for b in message.blocks for e in b.get("elements", []))

    run = _wait_status(stack, RunStatus.DONE, RunStatus.FAILED)
    assert run.status == RunStatus.DONE, run.error
    results = stack.ws.wait_for(lambda: [m for m in stack.ws.replies("C0A", message.ts) if "Results" in m.text])
    text = results[0].text
    assert "Held-out loss" in text and "answered right" in text and "v1 now answers" in text
    upload = stack.ws.wait_for(lambda: [m for m in stack.ws.replies("C0A", message.ts) if m.files])
    png = stack.ws.files[upload[0].files[0]].content
    assert png.startswith(b"\x89PNG")

    # The progress message was updated in place and ended in the done state, without a Cancel button.
    assert message.updates >= 3 and ":white_check_mark: done" in message.text
    assert not any(b["type"] == "actions" for b in message.blocks)
    gaps = [b - a for a, b in zip(message.update_times, message.update_times[1:], strict=False)]
    assert gaps  # phase changes are immediate; step updates are throttled (checked in test_reporter)

    metrics = run.metrics or {}
    assert metrics["after"]["loss"] < metrics["before"]["loss"], "held-out loss should go down"
    assert metrics["losses"][-1] < metrics["losses"][0]
    with stack.db.session() as s:
        adapter = s.scalars(select(Adapter).where(Adapter.channel_id == "C0A")).one()
        assert adapter.version == 1 and adapter.trainable_params == metrics["trainable_params"]
        path = stack.config.artifacts_dir / adapter.path
    assert (path / "adapter_model.safetensors").is_file() and (path / "orgtune.json").is_file()
    _assert_loadable(stack, path)

    status = _slash_reply(stack, "/orgtune", "status")
    assert "Answering with `tiny` v1" in status
    assert "#1 `tiny` — done" in _slash_reply(stack, "/orgtune", "runs")


def _assert_loadable(stack: Stack, path: Path) -> None:
    from peft import PeftModel

    from training.models import MODELS
    from training.weights import load

    base, _ = load(MODELS["tiny"], stack.config)
    model = PeftModel.from_pretrained(base, path)
    lora = [n for n, _ in model.named_parameters() if "lora_B" in n]
    assert lora and any(float(p.abs().sum()) > 0 for n, p in model.named_parameters() if "lora_B" in n)


def _slash_reply(stack: Stack, command: str, text: str) -> str:
    before = len(_ephemerals(stack))
    stack.driver.slash(command, text, "C0A", "U0ALICE")
    return stack.ws.wait_for(lambda: _ephemerals(stack)[before:] or None)[0]


def test_a_second_train_is_told_what_is_running(trained_stack: Stack) -> None:
    stack = trained_stack
    stack.stop_worker()  # nobody trains: the first run stays queued
    stack.driver.slash("/train", "tiny", "C0A", "U0ALICE")
    _progress_message(stack)
    reply = _slash_reply(stack, "/train", "smollm2")
    assert reply.startswith("A training run is already in progress here: `tiny`")
    assert "queued" in reply
    with stack.db.session() as s:
        assert len(s.scalars(select(TrainingRun)).all()) == 1
    # Cancelling a queued run takes it off the queue at once.
    assert "before it started" in _slash_reply(stack, "/orgtune", "cancel")
    assert _run(stack).status == RunStatus.CANCELLED  # type: ignore[union-attr]


def test_gpu_models_are_refused_on_a_cpu_worker_with_a_reason(trained_stack: Stack) -> None:
    stack = trained_stack
    stack.driver.slash("/train", "mistral", "C0A", "U0ALICE")
    run = _wait_status(stack, RunStatus.FAILED, RunStatus.DONE, timeout=120)
    assert run.status == RunStatus.FAILED
    assert "needs a GPU" in (run.error or "") and "ORGTUNE_ALLOW_CPU_TRAINING" in (run.error or "")
    message = _progress_message(stack)
    stack.ws.wait_for(lambda: ":x: failed" in message.text)
    with stack.db.session() as s:
        assert s.scalars(select(Adapter)).all() == []


def test_cancel_mid_run_stops_and_keeps_nothing(trained_stack: Stack) -> None:
    stack = trained_stack
    stack.driver.slash("/train", "smollm2", "C0A", "U0ALICE")
    message = _progress_message(stack)
    _wait_status(stack, RunStatus.EVALUATING, RunStatus.TRAINING)
    ack = stack.driver.click(message, "orgtune_cancel_run", "U0ALICE", value=message.blocks[-1]["elements"][0]["value"])
    assert ack.status == 200
    run = _wait_status(stack, RunStatus.CANCELLED, RunStatus.DONE, RunStatus.FAILED, timeout=120)
    assert run.status == RunStatus.CANCELLED and run.cancelled_by == "U0ALICE"
    stack.ws.wait_for(lambda: ":no_entry_sign: cancelled" in message.text)
    assert "Cancelling run" in _ephemerals(stack)[-1]
    with stack.db.session() as s:
        assert s.scalars(select(Adapter)).all() == []


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_a_killed_work_horse_fails_the_run_with_a_message(trained_stack: Stack) -> None:
    stack = trained_stack
    stack.driver.slash("/train", "smollm2", "C0A", "U0ALICE")
    message = _progress_message(stack)
    _wait_status(stack, RunStatus.EVALUATING, RunStatus.TRAINING)
    assert stack.trainer is not None
    horses = _children(stack.trainer.pid)
    assert horses, "the train worker should be running the job in a work horse"
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    run = _wait_status(stack, RunStatus.FAILED, timeout=60)
    assert "killed" in (run.error or "")
    stack.ws.wait_for(lambda: ":x: failed" in message.text and "killed" in message.text)


def test_a_dead_worker_leaves_no_run_running_forever(trained_stack: Stack) -> None:
    stack = trained_stack
    stack.driver.slash("/train", "smollm2", "C0A", "U0ALICE")
    _wait_status(stack, RunStatus.EVALUATING, RunStatus.TRAINING)
    assert stack.trainer is not None
    for pid in [*_children(stack.trainer.pid), stack.trainer.pid]:  # the machine dies: worker and horse
        os.kill(pid, signal.SIGKILL)
    stack.trainer.wait()
    stack.start_trainer()  # a replacement worker notices the orphaned run
    run = _wait_status(stack, RunStatus.FAILED, timeout=90)
    assert "stopped" in (run.error or "")
