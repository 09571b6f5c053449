"""Supervising a worker that serves the answer queue beside other queues.

Answering keeps models warm, so it runs in a non-forking RQ worker; the other queues
need RQ's forking worker (a work horse per job, CUDA never in the forking process).
``orgtune worker ingest train answer`` is therefore two processes, and this module
makes the one started a small supervisor of both children::

    orgtune worker train answer        supervisor: starts, watches, restarts, stops
    ├── orgtune worker train           forking RQ worker (its work horses below it)
    └── orgtune worker answer          non-forking RQ worker, models warm

The other design, the parent staying the forking RQ worker and watching the answer
child from a thread, was rejected: RQ owns that process's signals and main loop, so
a SIGTERM before RQ installed its handlers (during imports or the hardware probe)
killed the parent and orphaned the child, and giving up on a crash-looping child
would mean breaking into RQ's loop from a thread; a process that forks work horses
is also better off without extra threads (a lock held by one at the fork stays held
in the horse). Here both children are handled alike, since either may die.

What the supervisor guarantees:

- A dead child is reaped at once (SIGCHLD wakes the loop: no zombie) and restarted
  after a backoff that doubles with each death within WORKER_RESTART_WINDOW_S. After
  WORKER_RESTART_LIMIT restarts in the window it stops the other child and the
  worker exits 1, saying so, for the platform to restart it (and alert).
- SIGTERM or SIGINT: each child gets a warm shutdown (finish the current job), a cold
  one after WORKER_STOP_GRACE_S or at a second signal, and SIGKILL WORKER_KILL_AFTER_S
  later; then the supervisor exits.
- Children never outlive it: on Linux each gets PR_SET_PDEATHSIG=SIGTERM, so if the
  supervisor is SIGKILLed they shut down by themselves (the forking one also kills its
  work horse then, see ``jobs.worker.ForkingWorker``: nobody is left to stop it cold).
- With ``--burst`` a child that finishes is not restarted; the supervisor exits when
  both have, non-zero if either failed.

It imports no torch and opens no Redis or database connection. It runs in a single
thread: Linux sends PDEATHSIG when the *thread* that forked the child ends, and a
Popen ``preexec_fn`` is unsafe with threads.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from orgtune import defaults
from orgtune.config import Config
from orgtune.processes import dies_with_us, stop_workers

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Longest sleep of the watch loop: signals wake it sooner; this only bounds a missed wake-up."""


class RestartPolicy:
    """When to restart a child that died, and when to stop trying."""

    def __init__(
        self,
        limit: int = defaults.WORKER_RESTART_LIMIT,
        window_s: float = defaults.WORKER_RESTART_WINDOW_S,
        backoff_s: float = defaults.WORKER_RESTART_BACKOFF_S,
    ) -> None:
        self.limit, self.window_s, self.backoff_s = limit, window_s, backoff_s
        self._deaths: deque[float] = deque()

    def after_death(self, now: float) -> float | None:
        """Seconds to wait before the restart, or None: it died too often, give up."""
        self._deaths.append(now)
        while now - self._deaths[0] > self.window_s:
            self._deaths.popleft()
        if len(self._deaths) > self.limit:
            return None
        return float(self.backoff_s * 2 ** (len(self._deaths) - 1))

    @property
    def recent_deaths(self) -> int:
        return len(self._deaths)


@dataclass
class Child:
    """One supervised ``orgtune worker`` process, across its restarts."""

    queues: tuple[str, ...]
    name: str | None = None
    """RQ worker name (default: RQ's random one); restarts add ``.1``, ``.2``... because RQ refuses a
    name whose killed holder is still registered."""
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    restart_at: float | None = None
    last_status: int | None = None

    @property
    def label(self) -> str:
        return "+".join(self.queues)

    def argv(self, burst: bool) -> list[str]:
        name = self.name if not self.name or not self.starts else f"{self.name}.{self.starts}"
        return [
            sys.executable,
            "-m",
            "orgtune",
            "worker",
            *self.queues,
            *(["--burst"] if burst else []),
            *(["--name", name] if name else []),
        ]


def describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


class Supervisor:
    """Runs the children until a stop signal, a give-up, or (burst) until all have finished."""

    def __init__(
        self,
        children: Sequence[Child],
        env: dict[str, str],
        burst: bool = False,
        grace_s: float = defaults.WORKER_STOP_GRACE_S,
        kill_after_s: float = defaults.WORKER_KILL_AFTER_S,
    ) -> None:
        self.children = list(children)
        self.env = env
        self.burst = burst
        self.grace_s = grace_s
        self.kill_after_s = kill_after_s
        self._stop_signals = 0  # SIGTERM/SIGINT received; counted by the handler, acted on by the loop

    def run(self) -> int:
        """The worker's exit status: 0 after a stop signal (or burst success), 1 after giving up."""
        with self._signals() as wakeup:
            try:
                for child in self.children:
                    self._start(child)
                return self._watch(wakeup)
            finally:
                self._stop_all()  # also when starting one failed: no child is left behind

    def _watch(self, wakeup: int) -> int:
        while not self._stop_signals:
            now = time.monotonic()
            for child in self.children:
                dead = child.proc is not None and child.proc.poll() is not None  # poll() reaps it: no zombie
                if dead and not self._died(child, now):
                    return 1
                if child.restart_at is not None and child.restart_at <= now:
                    self._start(child)
            if self.burst and all(c.proc is None and c.restart_at is None for c in self.children):
                return 0 if all(c.last_status == 0 for c in self.children) else 1
            due = [c.restart_at - now for c in self.children if c.restart_at is not None]
            self._sleep(wakeup, min([POLL_S, *due]))
        log.info("supervisor: stop requested")
        return 0

    def _died(self, child: Child, now: float) -> bool:
        """Deal with a child found dead; False means give up."""
        assert child.proc is not None
        pid, child.last_status, child.proc = child.proc.pid, child.proc.returncode, None
        how = describe_status(child.last_status)
        if self.burst:
            log.info("supervisor: %s worker (pid %d) %s", child.label, pid, how)
            return True
        delay = child.policy.after_death(now)
        if delay is None:
            log.error(
                "supervisor: %s worker (pid %d) %s: %d deaths within %.0f s, giving up; the worker exits "
                "with status 1 so that the platform restarts it",
                child.label,
                pid,
                how,
                child.policy.recent_deaths,
                child.policy.window_s,
            )
            return False
        log.warning("supervisor: %s worker (pid %d) %s; restarting it in %.1f s", child.label, pid, how, delay)
        child.restart_at = now + delay
        return True

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.proc = subprocess.Popen(child.argv(self.burst), env=self.env, preexec_fn=dies_with_us(signal.SIGTERM))
        child.starts += 1
        log.info("supervisor: started %s worker (pid %d)", child.label, child.proc.pid)

    def _stop_all(self) -> None:
        live = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        if not live:
            return
        log.info("supervisor: stopping %d worker(s): warm, cold after %.0f s", len(live), self.grace_s)
        signals_before = self._stop_signals
        # A signal that comes while stopping (a second Ctrl+C, a second SIGTERM) means: now.
        stop_workers(live, self.grace_s, self.kill_after_s, hurry=lambda: self._stop_signals > signals_before)
        for child in self.children:
            if child.proc is not None:
                how = describe_status(child.proc.returncode)
                log.info("supervisor: %s worker (pid %d) %s", child.label, child.proc.pid, how)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signals += 1  # nothing else here: the loop acts, outside the handler

    @contextmanager
    def _signals(self) -> Iterator[int]:
        """Install the handlers; yields a descriptor that becomes readable when a signal arrives."""
        read_fd, write_fd = os.pipe()  # not inherited by children (PEP 446)
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        watched = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        previous = {sig: signal.getsignal(sig) for sig in watched}
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        try:
            signal.signal(signal.SIGTERM, self._on_stop)
            signal.signal(signal.SIGINT, self._on_stop)
            # A Python-level handler, so that a child's death writes to the wake-up descriptor.
            signal.signal(signal.SIGCHLD, lambda signum, frame: None)
            yield read_fd
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(read_fd)
            os.close(write_fd)

    @staticmethod
    def _sleep(wakeup: int, timeout: float) -> None:
        readable, _, _ = select.select([wakeup], [], [], max(timeout, 0.0))
        if readable:
            try:
                while os.read(wakeup, 512):
                    pass
            except BlockingIOError:
                pass


def supervise(config: Config, other_queues: Sequence[str], burst: bool = False, name: str | None = None) -> int:
    """Run ``other_queues`` in a forking worker and the answer queue in a non-forking one, supervised."""
    children = [
        Child(tuple(other_queues), name),
        Child((defaults.QUEUE_ANSWER,), f"{name}-{defaults.QUEUE_ANSWER}" if name else None),
    ]
    log.info(
        "supervisor (pid %d): %s in a forking worker, %s in a non-forking one",
        os.getpid(),
        ", ".join(other_queues),
        defaults.QUEUE_ANSWER,
    )
    return Supervisor(children, {**os.environ, **config.to_env()}, burst).run()
