"""Errors in listeners reach the user as a clear message and the log with a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("orgtune.bot")


@contextmanager
def reported(tell: Callable[[str], object], doing: str) -> Iterator[None]:
    """Run a block; on an exception, log it with a traceback and tell the user what failed.

    The exception is not re-raised: after Slack has been acknowledged there is no
    caller left to receive it, and both the log and the user have been told.
    """
    try:
        yield
    except Exception as exc:
        ref = uuid.uuid4().hex[:8]
        log.exception("error while %s (ref %s)", doing, ref)
        try:
            tell(
                f":x: Sorry, something went wrong while {doing} ({type(exc).__name__}, ref `{ref}`). "
                "Nothing was changed; please try again, and tell whoever runs orgtune if it persists."
            )
        except Exception:
            log.exception("could not tell the user about error ref %s", ref)
