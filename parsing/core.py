"""In-process parsing: size check, detection, extraction, sections, limits."""

from __future__ import annotations

import time

from parsing.detect import sniff
from parsing.docx_doc import parse_docx
from parsing.html_doc import parse_html
from parsing.markdown import parse_markdown
from parsing.model import DEFAULT_LIMITS, Limits, ParsedDocument, RejectedFile, format_size
from parsing.names import display_name
from parsing.pdf_doc import NO_TEXT_HINT, parse_pdf
from parsing.plaintext import parse_text
from parsing.sections import RawSection, finish

_INTRO = "Introduction"


def parse_document(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse an uploaded file into sections.

    Raises RejectedFile for every user-facing problem. Any other exception
    from a parser library becomes RejectedFile(code="corrupt"), and
    MemoryError becomes code "memory", so callers only ever see RejectedFile.
    Runs in the caller's process: use `parse_in_sandbox` for untrusted input
    when a hard time or memory bound is needed.
    """
    name = display_name(filename)
    deadline = time.monotonic() + limits.timeout_s
    if len(data) > limits.max_bytes:
        raise RejectedFile(
            f"{name} is {format_size(len(data))}; the largest file orgtune accepts is {format_size(limits.max_bytes)}.",
            "Split it into smaller files, or remove images and export it again.",
            code="too_large",
        )
    kind = "unknown"
    try:
        kind, text = sniff(data, filename, limits)
        return _extract(kind, text, data, name, limits, deadline)
    except RejectedFile:
        raise
    except MemoryError:
        raise memory_rejection(name) from None
    except Exception:  # library internals must never reach the user
        raise _corrupt(name, kind) from None


def memory_rejection(name: str) -> RejectedFile:
    """Rejection for a parse that ran out of its memory budget."""
    return RejectedFile(
        f"{name} needs too much memory to read.",
        "It may be very large or built to overload readers. Split it into smaller "
        "files, or export it again as a plain PDF or .docx.",
        code="memory",
    )


def _corrupt(name: str, kind: str) -> RejectedFile:
    if kind == "pdf":
        return RejectedFile(
            f"{name} is damaged and could not be read as a PDF.",
            "Open it and export or print it to a new PDF, then upload that.",
            code="corrupt",
        )
    if kind == "docx":
        return RejectedFile(
            f"{name} is damaged and could not be read as a Word document.",
            "Open it in Word, save a fresh copy as .docx, and upload that.",
            code="corrupt",
        )
    return RejectedFile(
        f"{name} is damaged or in an unexpected format, and could not be read.",
        "Open it and save or export a fresh copy (PDF or .docx), then upload that.",
        code="corrupt",
    )


def _extract(kind: str, text: str | None, data: bytes, name: str, limits: Limits, deadline: float) -> ParsedDocument:
    pages: int | None = None
    if kind == "pdf":
        raw, title, pages = parse_pdf(data, name, limits, deadline)
    elif kind == "docx":
        raw, title = parse_docx(data, name, limits)
    else:
        raw, title = _parse_text_kind(kind, text or "")
    # Text before the first heading is headed by the title, unless the title
    # merely repeats that first heading.
    first_heading = next((section.heading for section in raw if section.heading), None)
    intro = title if title and title != first_heading else _INTRO
    # Plain text without headings is cut into "Part 1", "Part 2", ...
    numbered_parts = kind == "text" and first_heading is None
    try:
        sections = finish(raw, name, limits, intro, numbered_parts=numbered_parts)
    except RejectedFile as rejection:
        if kind == "pdf" and rejection.code == "no_text":
            rejection.hint = NO_TEXT_HINT
        raise
    return ParsedDocument(kind=kind, sections=sections, pages=pages, title=title)


def _parse_text_kind(kind: str, text: str) -> tuple[list[RawSection], str | None]:
    if kind == "html":
        return parse_html(text)
    if kind == "markdown":
        return parse_markdown(text)
    return parse_text(text)
