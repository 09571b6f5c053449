"""The chaos soak (bench/chaos.py) as CI runs it: its seeded run loses nothing, leaves nothing stuck
and posts nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_seeded_chaos_soak_loses_nothing(models_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ORGTUNE_"))}
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--seed", "7"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert result["settled"]
    assert result["lost_documents"] == result["lost_questions"] == result["stuck_runs"] == 0
    assert result["duplicate_posts"] == 0
    assert sum(result["faults_injected"].values()) > 0
