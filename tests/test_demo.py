"""`orgtune demo`: the product end to end on this machine, as the README promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def run_demo(models_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ORGTUNE_"))}
    env["ORGTUNE_MODELS_DIR"] = str(models_dir)
    done = subprocess.run(
        [sys.executable, "-m", "orgtune", "demo", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def check_sharing(out: str) -> None:
    assert "#handbook" in out
    for name in ("benefits.md", "expenses.md", "security.md", "onboarding.md", "travel-policy.docx"):
        assert f"Added *{name}* — " in out
    assert "Added *remote-work.pdf* — 2 pages" in out
    assert "Not added. photo.txt" in out and "Not added. empty.txt" in out
    assert "same content as *benefits.md*" in out
    assert "6 documents in this channel" in out
    assert out.count("Added *benefits.md*") == 1  # the retried event changed nothing
    assert "Every Slack request was acknowledged" in out


def check_training(out: str, model: str) -> None:
    assert f"alice types /train {model}" in out
    assert "progress: " in out
    assert f"*Training `{model}`* for this channel — :white_check_mark: done" in out
    assert f"*Results — `{model}` v1*" in out and "Held-out questions answered right" in out
    assert "(shares loss-curve-v1.png)" in out


def check_questions(out: str) -> None:
    assert "alice asks: How many days of paid vacation do we get per year?" in out
    assert "Who won the office chess tournament?" in out
    assert "The documents don't cover this." in out
    assert "<@U0BOB> asked:" in out  # /ask answers in the channel, question quoted


def check_feedback_and_cancel(out: str) -> None:
    assert "alice clicks :+1: Helpful" in out and "Thanks, noted." in out
    assert "bob types /train" in out and "progress: cancelled" in out
    assert "— :no_entry_sign: cancelled" in out


def test_demo_shares_documents_and_trains(models_dir: Path) -> None:
    """The demo's script with the tiny test model, so the default suite stays fast."""
    out = run_demo(models_dir, "--model", "tiny")
    check_sharing(out)
    check_training(out, "tiny")
    check_questions(out)
    check_feedback_and_cancel(out)
    assert "The channel as Slack shows it: " in out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_over_socket_mode_on_a_flaky_slack(models_dir: Path) -> None:
    """The same flow over Socket Mode, with Slack failing some calls (5xx, resets) on top of its rate limits."""
    out = run_demo(models_dir, "--model", "tiny", "--socket-mode", "--flaky-slack")
    assert "the bot over Socket Mode" in out
    check_sharing(out)
    check_training(out, "tiny")
    check_questions(out)
    check_feedback_and_cancel(out)
    failed = re.search(r"and failed (\d+) on purpose", out)
    assert failed and int(failed[1]) > 0, out[-500:]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_as_the_readme_runs_it(models_dir: Path) -> None:
    """Exactly `orgtune demo`: SmolLM2 trained on the CPU."""
    out = run_demo(models_dir)
    check_sharing(out)
    check_training(out, "smollm2")
    assert "progress: training epoch 1/2 · step 1/" in out  # followed live, step by step
    check_questions(out)
