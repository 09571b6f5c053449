"""Turn uploaded documents (PDF, DOCX, Markdown, HTML, plain text) into sections.

Every input is treated as hostile: sizes, page counts, zip expansion, text
length, time and memory are bounded by `Limits` (defaults from
`orgtune.defaults`), and every problem surfaces as `RejectedFile` with a
message fit to show a Slack user.
"""

from __future__ import annotations

from parsing.core import parse_document
from parsing.detect import detect_kind
from parsing.model import DEFAULT_LIMITS, Limits, ParsedDocument, RejectedFile, Section
from parsing.sandbox import parse_in_sandbox

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "ParsedDocument",
    "RejectedFile",
    "Section",
    "detect_kind",
    "parse_document",
    "parse_in_sandbox",
]
