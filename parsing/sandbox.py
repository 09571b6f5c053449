"""Run `parse_document` in a forked child bounded in wall time, CPU time and memory."""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from parsing.core import memory_rejection, parse_document
from parsing.model import DEFAULT_LIMITS, Limits, ParsedDocument, RejectedFile, Section, timeout_rejection
from parsing.names import display_name

# Extra CPU seconds past the wall-clock timeout before the kernel stops the child;
# the parent's wall-clock kill normally comes first.
_CPU_GRACE_S = 1
# Signals a child gets when it runs out of memory (OOM killer, abort in malloc).
_MEMORY_SIGNALS = frozenset({signal.SIGKILL, signal.SIGABRT})
_Message = tuple[Any, ...]


def parse_in_sandbox(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse in a forked child process; same contract as `parse_document`.

    The child caps its address space (RLIMIT_AS) at its size at fork plus
    `limits.memory_bytes`, and its CPU time slightly above `limits.timeout_s`.
    The parent waits at most `limits.timeout_s`, then kills the child and raises
    RejectedFile(code="timeout"); a child that dies raises code "memory" (out
    of memory), "timeout" (CPU limit) or "corrupt" (crash). The child is always
    reaped and both pipe ends closed, so repeated calls leak nothing.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, data, filename, limits), daemon=True)
    try:
        process.start()
        sender.close()  # so the parent sees EOF if the child dies
        message = _receive(receiver, limits.timeout_s)
    finally:
        sender.close()
        receiver.close()
        exitcode = _reap(process)
    return _interpret(message, exitcode, display_name(filename), limits)


def _receive(receiver: Connection, timeout_s: float) -> _Message | None:
    """The child's message; ("timeout",) if none came in time; None if the child died."""
    if not receiver.poll(timeout_s):
        return ("timeout",)
    try:
        message = receiver.recv()
    except Exception:  # EOF from a dead child, or a message cut short by a kill
        return None
    return message if isinstance(message, tuple) and message else None


def _reap(process: BaseProcess) -> int | None:
    """Kill the child if it still runs, wait for it, free its resources; return its exit code."""
    if process.pid is None:
        return None  # never started
    if process.is_alive():
        process.kill()
    process.join()
    exitcode = process.exitcode
    process.close()
    return exitcode


def _interpret(message: _Message | None, exitcode: int | None, name: str, limits: Limits) -> ParsedDocument:
    if message is not None and message[0] == "ok":
        return _unpack(message[1])
    if message is not None and message[0] == "rejected":
        raise RejectedFile(message[1], message[2], code=message[3])
    if message is not None and message[0] == "timeout":
        raise timeout_rejection(name, limits.timeout_s)
    if exitcode is not None and exitcode < 0:
        if -exitcode == signal.SIGXCPU:
            raise timeout_rejection(name, limits.timeout_s)
        if -exitcode in _MEMORY_SIGNALS:
            raise memory_rejection(name)
    raise RejectedFile(
        f"{name} crashed the document reader, so it is probably damaged.",
        "Open it and save or export a fresh copy (PDF or .docx), then upload that.",
        code="corrupt",
    )


def _child(sender: Connection, data: bytes, filename: str, limits: Limits) -> None:
    """Child process body: apply limits, parse, send one message, exit."""
    message: _Message
    try:
        _apply_limits(limits)
        message = ("ok", _pack(parse_document(data, filename, limits)))
    except RejectedFile as rejection:
        message = ("rejected", rejection.reason, rejection.hint, rejection.code)
    except MemoryError:
        message = _rejected(memory_rejection(display_name(filename)))
    except Exception:  # setrlimit refused; the parent reports a generic failure
        message = ("failed",)
    try:
        sender.send(message)
    except MemoryError:
        # Pickling a large result can itself exhaust the cap.
        sender.send(_rejected(memory_rejection(display_name(filename))))
    finally:
        sender.close()


def _rejected(rejection: RejectedFile) -> _Message:
    return ("rejected", rejection.reason, rejection.hint, rejection.code)


def _apply_limits(limits: Limits) -> None:
    # Relative to the size at fork: a worker that has mapped large libraries
    # would otherwise be unable to allocate anything at all.
    _lower_limit(resource.RLIMIT_AS, _address_space() + limits.memory_bytes, grace=0)
    _lower_limit(resource.RLIMIT_CPU, math.ceil(limits.timeout_s) + _CPU_GRACE_S, grace=1)


def _lower_limit(which: int, soft: int, grace: int) -> None:
    """Set soft=`soft`, hard=`soft + grace`, never above the current hard limit."""
    _, hard = resource.getrlimit(which)
    new_hard = soft + grace if hard == resource.RLIM_INFINITY else min(soft + grace, hard)
    resource.setrlimit(which, (min(soft, new_hard), new_hard))


def _address_space() -> int:
    """Current virtual memory size in bytes (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _pack(document: ParsedDocument) -> dict[str, Any]:
    # Plain built-in types only: the parent rebuilds the dataclasses itself.
    return {
        "kind": document.kind,
        "pages": document.pages,
        "title": document.title,
        "sections": [(s.heading, s.level, s.text) for s in document.sections],
    }


def _unpack(packed: dict[str, Any]) -> ParsedDocument:
    sections = [Section(heading, level, text) for heading, level, text in packed["sections"]]
    return ParsedDocument(packed["kind"], sections, packed["pages"], packed["title"])
