"""What a worker runs on, measured, so plans can estimate time and memory for it.

The probe runs in a child process (``python -m jobs.hardware``): a worker's
parent process must never initialise CUDA, because RQ forks work horses from it.
Training workers publish their profile in Redis so the bot can plan for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the probe (python -m jobs.hardware) runs where redis may not be installed
    from redis import Redis

KEY_PREFIX = "orgtune:hardware:"


@dataclass(frozen=True)
class Hardware:
    device: str  # "cuda" or "cpu"
    name: str
    cpu_cores: int
    memory_bytes: int
    gpu_memory_bytes: int | None
    matmul_gflops: float
    """Measured dense matmul throughput (fp32 on CPU, bf16 on GPU)."""

    def describe(self) -> str:
        if self.device == "cuda":
            return f"{self.name} ({(self.gpu_memory_bytes or 0) / 2**30:.0f} GB)"
        return f"CPU ({self.cpu_cores} cores, {self.memory_bytes / 2**30:.0f} GB RAM)"

    @property
    def usable_memory_bytes(self) -> int:
        return int(self.gpu_memory_bytes if self.device == "cuda" and self.gpu_memory_bytes else self.memory_bytes)


def measure() -> Hardware:
    """Run in-process: imports torch and, if present, initialises CUDA."""
    import torch

    cores = os.cpu_count() or 1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gflops = _matmul_gflops(torch, "cuda", torch.bfloat16, 4096)
        return Hardware("cuda", props.name, cores, memory, int(props.total_memory), gflops)
    return Hardware("cpu", "CPU", cores, memory, None, _matmul_gflops(torch, "cpu", torch.float32, 512))


def _matmul_gflops(torch, device: str, dtype, n: int, seconds: float = 0.3) -> float:  # type: ignore[no-untyped-def]
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()  # warm up
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        (a @ b).sum().item()
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def probe(timeout_s: float = 120) -> Hardware:
    """Measure in a child process, so this process never touches CUDA."""
    out = subprocess.run(
        [sys.executable, "-m", "jobs.hardware"], capture_output=True, text=True, timeout=timeout_s, check=True
    )
    return Hardware(**json.loads(out.stdout.strip().splitlines()[-1]))


def publish(redis: Redis, worker_name: str, hardware: Hardware) -> None:
    redis.set(KEY_PREFIX + worker_name, json.dumps(asdict(hardware)))


def withdraw(redis: Redis, worker_name: str) -> None:
    redis.delete(KEY_PREFIX + worker_name)


def online(redis: Redis, queue: str) -> list[Hardware]:
    """Profiles of live workers listening on ``queue``, best first (GPU, then speed)."""
    from rq import Queue, Worker

    names = {w.name for w in Worker.all(queue=Queue(queue, connection=redis))}
    found = []
    for name in names:
        raw = redis.get(KEY_PREFIX + name)
        if raw:
            found.append(Hardware(**json.loads(raw)))
    return sorted(found, key=lambda h: (h.device != "cuda", -h.matmul_gflops))


if __name__ == "__main__":
    print(json.dumps(asdict(measure())))
