"""`orgtune demo`: the product end to end on this machine, as the README promises."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_shows_documents_being_shared_and_acknowledged() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ORGTUNE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "orgtune", "demo"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "#handbook" in out
    for name in ("benefits.md", "expenses.md", "security.md", "onboarding.md", "travel-policy.docx"):
        assert f"Added *{name}* — " in out
    assert "Added *remote-work.pdf* — 2 pages" in out
    assert "Not added. photo.txt" in out and "Not added. empty.txt" in out
    assert "same content as *benefits.md*" in out
    assert "6 documents in this channel" in out
    assert out.count("Added *benefits.md*") == 1  # the retried event changed nothing
    assert "Every Slack request was acknowledged" in out
