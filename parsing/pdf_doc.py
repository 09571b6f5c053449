"""PDF: pypdf text extraction under page, time and size budgets, then heuristic sections."""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from dataclasses import dataclass

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from parsing.headings import heading_level, numbered_depth
from parsing.model import SPLIT_HINT, Limits, RejectedFile, timeout_rejection
from parsing.sections import RawSection, SectionBuilder, check_chars, clean_heading, collapse
from parsing.textdecode import clean_text

_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^[-–—]\s*\d{1,4}\s*[-–—]$", re.I)
_BULLET = re.compile(r"^[•▪◦‣●○■□\uf0b7\uf0a7*–-]\s+")
_SENTENCE_END = (".", "!", "?", ":", '"', "”", ")")
# A line this much shorter than the page's longest line, ending a sentence,
# ends its paragraph (PDF text has no paragraph marks).
_SHORT_LINE = 0.8
# Running headers/footers repeat on this share of pages (2 pages at least).
_FURNITURE_SHARE = 0.6
_FURNITURE_MIN_PAGES = 2
# Headers and footers are short; a long repeated edge line is body text.
_FURNITURE_MAX_WORDS = 12
NO_TEXT_HINT = "This PDF has no text layer (is it a scan?). Upload a text PDF or a DOCX."


@dataclass
class _Line:
    text: str
    page: int
    level: int | None = None


def parse_pdf(data: bytes, name: str, limits: Limits, deadline: float) -> tuple[list[RawSection], str | None, int]:
    """Extract sections from a PDF; returns (sections, title, page count).

    Raises RejectedFile: "encrypted" (needs a password, or a cipher pypdf
    can't use without `cryptography`), "too_many_pages", "timeout" (checked
    between pages against `deadline`, a time.monotonic() value), "too_long"
    (text past `limits.max_text_chars`) or "no_text" (no text layer).
    Sections come from heading-like lines, else one per page.
    """
    try:
        # pypdf decrypts lazily, object by object, so a missing cipher can surface
        # while opening (AES-256 key check) or only while extracting (AES-128 streams).
        reader = _open(data, name)
        page_count = len(reader.pages)
        if page_count > limits.max_pdf_pages:
            raise RejectedFile(
                f"{name} has {page_count:,} pages; orgtune accepts at most {limits.max_pdf_pages:,}.",
                SPLIT_HINT,
                code="too_many_pages",
            )
        texts = _extract(reader, name, limits, deadline)
    except DependencyError:
        # Only without `cryptography` (a broken install): the file is fine, so don't call it damaged.
        raise RejectedFile(
            f"{name} is encrypted in a way orgtune can't open.",
            "Export an unprotected copy (or print it to a new PDF) and upload that.",
            code="encrypted",
        ) from None
    if not any(text.strip() for text in texts):
        raise RejectedFile(f"{name} contains no readable text.", NO_TEXT_HINT, code="no_text")
    lines = _classify(_remove_furniture(texts))
    widths = _page_widths(lines)
    builder = SectionBuilder()
    if any(line.level is not None for line in lines):
        _assemble(builder, lines, widths)
    else:
        by_page: list[list[_Line]] = [[] for _ in texts]
        for line in lines:
            by_page[line.page].append(line)
        for number, page_lines in enumerate(by_page, 1):
            builder.heading(f"Page {number}", 1)
            _assemble(builder, page_lines, widths)
    return builder.sections, _metadata_title(reader) or builder.first_heading, page_count


def _open(data: bytes, name: str) -> PdfReader:
    # pypdf loads its AES provider (`cryptography`) when imported, i.e. in the worker
    # before the sandbox forks, so the child's address-space cap never has to fit it.
    # The constructor already tries the empty password; DependencyError is left to the caller.
    reader = PdfReader(io.BytesIO(data), strict=False)
    # Many "protected" PDFs only restrict printing and open with an empty password.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise RejectedFile(
            f"{name} is encrypted with a password.",
            "Remove the password (or export an unprotected copy) and upload it again.",
            code="encrypted",
        )
    return reader


def _extract(reader: PdfReader, name: str, limits: Limits, deadline: float) -> list[str]:
    texts: list[str] = []
    total = 0
    for page in reader.pages:
        if time.monotonic() > deadline:
            raise timeout_rejection(name, limits.timeout_s)
        text = clean_text(page.extract_text() or "")
        total += len(collapse(text)) + 1
        check_chars(total, name, limits)
        texts.append(text)
    return texts


def _remove_furniture(texts: list[str]) -> list[list[str]]:
    """Per-page lines without page numbers and running headers/footers."""
    pages = [[collapse(line) for line in text.split("\n")] for text in texts]
    pages = [[line for line in page if not _PAGE_NUMBER.match(line)] for page in pages]
    if len(pages) < _FURNITURE_MIN_PAGES:
        return pages
    edges: Counter[str] = Counter()
    for page in pages:
        edges.update({_shape(page[i]) for i in _edge_indexes(page) if len(page[i].split()) <= _FURNITURE_MAX_WORDS})
    repeated = {shape for shape, count in edges.items() if count >= _FURNITURE_SHARE * len(pages)}
    for page in pages:
        for index in _edge_indexes(page):
            # "3. Scope" atop page 3 is a numbered heading, not a running header.
            if _shape(page[index]) in repeated and numbered_depth(page[index]) is None:
                page[index] = ""
    return pages


def _edge_indexes(page: list[str]) -> set[int]:
    """Indexes of the first and last non-blank lines of a page."""
    content = [index for index, line in enumerate(page) if line]
    return {content[0], content[-1]} if content else set()


def _shape(line: str) -> str:
    # "Handbook - page 3" and "Handbook - page 4" are the same footer.
    return re.sub(r"\d+", "#", line.lower())


def _classify(pages: list[list[str]]) -> list[_Line]:
    """Flatten pages into lines, marking heading lines with a level."""
    lines = [_Line(text, number) for number, page in enumerate(pages) for text in page]
    following: list[_Line | None] = [None] * len(lines)
    upcoming: _Line | None = None
    for index in range(len(lines) - 1, -1, -1):
        following[index] = upcoming
        upcoming = lines[index] if lines[index].text else upcoming
    previous: _Line | None = None
    for line, after in zip(lines, following, strict=True):
        if line.text and after is not None and _stands_alone(line, previous):
            depth = numbered_depth(line.text)
            # "1. Apples / 2. Pears" is a list, not two headings.
            if depth is None or numbered_depth(after.text) != depth:
                line.level = heading_level(line.text, title_case=True)
        previous = line
    levels = [line.level for line in lines if line.level is not None]
    shift = min(levels) - 1 if levels else 0
    for line in lines:
        if line.level is not None:
            line.level -= shift  # the top heading level used becomes level 1
    return lines


def _stands_alone(line: _Line, previous: _Line | None) -> bool:
    """A heading starts a page or follows a blank, a heading or a finished sentence."""
    if previous is None or previous.page != line.page or not previous.text:
        return True
    return previous.level is not None or previous.text.endswith(_SENTENCE_END)


def _page_widths(lines: list[_Line]) -> dict[int, int]:
    widths: dict[int, int] = {}
    for line in lines:
        widths[line.page] = max(widths.get(line.page, 0), len(line.text))
    return widths


def _assemble(builder: SectionBuilder, lines: list[_Line], widths: dict[int, int]) -> None:
    """Join wrapped lines into paragraphs, undoing end-of-line hyphenation."""
    paragraph: list[str] = []  # a list, not +=, so a huge paragraph is not quadratic
    previous: _Line | None = None
    for line in lines:
        text = line.text
        bullet = _BULLET.match(text)
        if line.level is not None or not text or bullet or _ends_paragraph(previous, widths):
            builder.paragraph(" ".join(paragraph))
            paragraph = []
        if line.level is not None:
            builder.heading(text, line.level)
        elif bullet:
            paragraph = ["- " + text[bullet.end() :]]
        elif paragraph and _hyphenated(paragraph[-1], text):
            paragraph[-1] = paragraph[-1][:-1] + text
        elif text:
            paragraph.append(text)
        previous = line
    builder.paragraph(" ".join(paragraph))


def _hyphenated(before: str, after: str) -> bool:
    """True for "infor-" + "mation": a word split across lines (not "e-" + "Mail")."""
    return before.endswith("-") and before[-2:-1].isalpha() and after[:1].islower()


def _ends_paragraph(previous: _Line | None, widths: dict[int, int]) -> bool:
    if previous is None or not previous.text.endswith(_SENTENCE_END):
        return False
    return len(previous.text) < _SHORT_LINE * widths.get(previous.page, 0)


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken Info dictionary only costs us the title
        return None
    return clean_heading(clean_text(str(title))) or None if title else None
