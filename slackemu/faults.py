"""Slack's rate limits and the failures of a real network, for the emulator.

Slack limits each Web API method per app and workspace by tier (Tier 1: 1+ a
minute, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+, each tolerating short bursts;
chat.postMessage: about one message a second per channel) and answers HTTP 429
with ``Retry-After`` beyond them. Servers also fail: 5xx answers and reset
connections. Both are on the emulator so orgtune's retries are exercised in
tests; rate limits are on by default (Slack always has them), injected faults
only when a test asks.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "reactions.add": 3,
    "reactions.remove": 2,
    "files.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "users.info": 4,
    "conversations.info": 3,
    "apps.connections.open": 1,
}
POST_MESSAGE_PER_SECOND = 1.0  # chat.postMessage's special limit, per channel
POST_MESSAGE_BURST = 3  # "short bursts of more than one are allowed"
MIN_BURST = 5  # every tier tolerates a few calls in a row


@dataclass
class _Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimits:
    """Token buckets per (method[, channel]); ``enabled`` switches them per test."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self.limited: list[str] = []  # methods answered 429, in order, for assertions

    def check(self, method: str, params: dict[str, Any]) -> int | None:
        """None when the call may proceed, else the Retry-After seconds."""
        if not self.enabled:
            return None
        if method == "chat.postMessage":
            key, rate, burst = (method, str(params.get("channel", ""))), POST_MESSAGE_PER_SECOND, POST_MESSAGE_BURST
        elif method in METHOD_TIERS:
            per_minute = TIER_PER_MINUTE[METHOD_TIERS[method]]
            key, rate, burst = (method, ""), per_minute / 60.0, max(MIN_BURST, per_minute // 4)
        else:
            return None
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(rate, burst, burst, now))
            wait = bucket.take(now)
            if wait:
                self.limited.append(method)
        return max(1, math.ceil(wait)) if wait else None

    def exhaust(self, method: str, channel: str = "") -> None:
        """Use up a method's allowance now (tests: the next call gets 429)."""
        self.check(method, {"channel": channel})  # creates the bucket
        with self._lock:
            for (m, c), bucket in self._buckets.items():
                if m == method and (not channel or c == channel):
                    bucket.tokens = 0.0
                    bucket.stamp = time.monotonic()


FAULT_KINDS = ("500", "503", "reset")


@dataclass
class Faults:
    """Failures injected before a call is processed, so a retry is always safe to make.

    ``fail(method, kind, times)`` fails the next calls of one method; ``chaos``
    fails a share of all calls at random (seeded), never the same method twice in
    a row, so a client that retries at least once always gets through.
    """

    planned: dict[str, list[str]] = field(default_factory=dict)
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    methods: frozenset[str] | None = None
    injected: list[tuple[str, str]] = field(default_factory=list)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))
    _last_failed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, kind: str = "503", times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self.planned.setdefault(method, []).extend([kind] * times)

    def chaos(
        self, rate: float, seed: int = 0, kinds: Iterable[str] = FAULT_KINDS, methods: Iterable[str] | None = None
    ) -> None:
        with self._lock:
            self.rate, self.kinds = rate, tuple(kinds)
            self.methods = frozenset(methods) if methods is not None else None
            self._rng = random.Random(seed)

    def take(self, method: str) -> str | None:
        """The fault to answer this call with, if any."""
        with self._lock:
            planned = self.planned.get(method)
            if planned:
                kind: str | None = planned.pop(0)
            elif (
                self.rate
                and method not in self._last_failed
                and (self.methods is None or method in self.methods)
                and self._rng.random() < self.rate
            ):
                kind = self._rng.choice(self.kinds)
            else:
                kind = None
            if kind is None:
                self._last_failed.discard(method)
                return None
            self._last_failed.add(method)
            self.injected.append((method, kind))
            return kind
