"""Worker processes we start (demo, tests, a supervised worker's children): tying them to
their parent, and stopping them."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from orgtune import defaults

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
"""From <linux/prctl.h>."""


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


# Looked up at import, before any fork: between fork and exec a child then only calls it
# (no dynamic-linker lookup, which could wait on a lock another thread held at the fork).
_PRCTL = _load_prctl()


def die_with_parent(sig: int, parent_pid: int) -> None:
    """In a child: have Linux send it ``sig`` when its parent ends (PR_SET_PDEATHSIG; a no-op elsewhere).

    ``parent_pid`` closes the race: if the parent already ended before the request,
    the child was re-parented and the signal will never come, so it exits now.
    Linux sends the signal when the *thread* that forked the child ends: fork from
    one that lives as long as its process.
    """
    if _PRCTL is None:
        return
    if _PRCTL(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent_pid:
        os._exit(1)


def parent_death_signal() -> int:
    """The signal this process gets when its parent ends (0: none, or not Linux)."""
    if _PRCTL is None:
        return 0
    sig = ctypes.c_int(0)
    # prctl's argument is a pointer (an address, as the unsigned long argtypes declare).
    if _PRCTL(PR_GET_PDEATHSIG, ctypes.addressof(sig), 0, 0, 0) != 0:
        return 0
    return sig.value


def dies_with_us(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for Popen: the child gets ``sig`` when this process ends (Linux; None elsewhere)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    return lambda: die_with_parent(sig, parent)


def stop_workers(
    procs: Sequence[subprocess.Popen[Any]],
    warm_s: float,
    cold_s: float,
    hurry: Callable[[], bool] = lambda: False,
    poll_s: float = 0.05,
) -> None:
    """Stop RQ workers together, and their work horses.

    RQ treats the first SIGTERM as a warm shutdown (finish the current job, which
    may be a long training run) and a second one as cold (kill the work horse). The
    second goes to those still running after ``warm_s``, or as soon as ``hurry()``
    says so, but never within RQ_SIGNAL_GAP_S of the first (RQ would ignore it);
    SIGKILL goes to those still running ``cold_s`` after that.
    """
    started = time.monotonic()
    for proc in procs:
        proc.terminate()  # Popen skips a process it has already reaped: no signal to a reused pid
    cold_at: float | None = None
    while alive := [p for p in procs if p.poll() is None]:
        now = time.monotonic()
        waited = now - started
        if cold_at is None and waited >= defaults.RQ_SIGNAL_GAP_S and (waited >= warm_s or hurry()):
            for proc in alive:
                proc.terminate()
            cold_at = now
        elif cold_at is not None and now - cold_at >= cold_s:
            for proc in alive:
                proc.kill()
            for proc in alive:
                proc.wait()
            return
        time.sleep(poll_s)


def stop_worker(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """Stop one RQ worker at once: warm, cold right after, SIGKILL ``grace_s`` later."""
    stop_workers([proc], warm_s=0, cold_s=grace_s)
