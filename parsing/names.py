"""Make an untrusted filename safe to quote in a user-facing message."""

from __future__ import annotations

import re

# Control characters, and the angle brackets Slack uses for mentions (<!channel>).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f<>]")
# Long enough for any real filename; keeps a hostile 10 kB name out of chat.
_MAX_NAME_CHARS = 80


def display_name(filename: str) -> str:
    """Return the file's base name, stripped of unsafe characters, at most ~80 chars.

    An empty result becomes "This file" so messages still read naturally.
    """
    base = re.split(r"[\\/]", filename)[-1]
    base = " ".join(_UNSAFE.sub(" ", base).split())
    if len(base) > _MAX_NAME_CHARS:
        _, dot, ext = base.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        base = base[: _MAX_NAME_CHARS - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return base or "This file"
