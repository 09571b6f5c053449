"""Stopping worker processes we started (demo, tests, the answer-queue sidecar)."""

from __future__ import annotations

import subprocess


def stop_worker(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """Stop an RQ worker and its work horse.

    RQ treats the first SIGTERM as a warm shutdown (finish the current job, which
    may be a long training run) and a second one as cold (kill the work horse).
    """
    for _ in range(2):
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            continue
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
