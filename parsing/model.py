"""Data types shared by every parser: limits, sections, documents and rejections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orgtune import defaults
from parsing.words import count_words


@dataclass(frozen=True)
class Limits:
    """Every bound a parse enforces; defaults come from `orgtune.defaults`.

    Tests and callers override single fields (`Limits(max_bytes=1024)`); no
    parser hard-codes any of these numbers.
    """

    max_bytes: int = defaults.MAX_FILE_BYTES
    timeout_s: float = defaults.PARSE_TIMEOUT_S
    memory_bytes: int = defaults.PARSE_MEMORY_BYTES
    max_pdf_pages: int = defaults.MAX_PDF_PAGES
    max_decompressed_bytes: int = defaults.MAX_DECOMPRESSED_BYTES
    max_compression_ratio: int = defaults.MAX_COMPRESSION_RATIO
    max_zip_members: int = defaults.MAX_ZIP_MEMBERS
    max_text_chars: int = defaults.MAX_TEXT_CHARS
    max_sections: int = defaults.MAX_SECTIONS
    max_section_words: int = defaults.MAX_SECTION_WORDS
    min_words: int = defaults.MIN_DOCUMENT_WORDS
    max_control_ratio: float = defaults.MAX_BINARY_CONTROL_RATIO


DEFAULT_LIMITS = Limits()


@dataclass
class Section:
    """One retrievable unit of a document.

    `heading` is never empty; `level` is 1..6; `text` has no leading or
    trailing whitespace, paragraphs are separated by exactly one blank line
    ("\\n\\n") and prose paragraphs hold no newlines or runs of spaces (code
    blocks keep their line breaks and indentation).
    """

    heading: str
    level: int
    text: str

    @property
    def words(self) -> int:
        """Words in the body (the heading is not counted); see `parsing.words`."""
        return count_words(self.text)


@dataclass
class ParsedDocument:
    """The result of a successful parse: a non-empty list of sections."""

    kind: str
    sections: list[Section] = field(default_factory=list)
    pages: int | None = None
    title: str | None = None

    @property
    def words(self) -> int:
        """Total body words over all sections; headings are excluded."""
        return sum(section.words for section in self.sections)

    @property
    def chars(self) -> int:
        """Total body characters over all sections; headings are excluded."""
        return sum(len(section.text) for section in self.sections)


REJECTION_CODES = frozenset(
    {
        "empty",
        "too_large",
        "unsupported",
        "binary",
        "corrupt",
        "encrypted",
        "too_many_pages",
        "zip_bomb",
        "too_long",
        "timeout",
        "no_text",
        "memory",
    }
)


class RejectedFile(Exception):
    """A file that cannot be accepted.

    `reason` says what was wrong, `hint` what the user can do; both are shown to
    a Slack user verbatim, so plain friendly English, no stack traces. `code` is
    a short machine code for programs (metrics, tests, retries); this package
    only raises the codes in `REJECTION_CODES`, callers may add their own.
    """

    def __init__(self, reason: str, hint: str = "", *, code: str = "unsupported") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.reason} {self.hint}".strip()

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickling replays only `args`; keep hint and code across processes.
        return (_rebuild_rejection, (self.reason, self.hint, self.code))


def _rebuild_rejection(reason: str, hint: str, code: str) -> RejectedFile:
    return RejectedFile(reason, hint, code=code)


def format_size(size: int) -> str:
    """Human size in binary units, e.g. "20 MB", "20.4 MB", "512 KB", "900 bytes"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


SPLIT_HINT = "Split it into smaller documents (for example one per chapter) and upload those."


def timeout_rejection(name: str, timeout_s: float) -> RejectedFile:
    """Rejection for a parse that ran past its time budget."""
    return RejectedFile(
        f"{name} took too long to read (more than {timeout_s:g} seconds).",
        "It may be unusually large or complex. Try saving or exporting it again "
        "(for example as a new PDF or a .docx), or split it into smaller files.",
        code="timeout",
    )
