"""DOCX: zip-bomb checks with zipfile first, then python-docx for styled paragraphs and tables."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from parsing.model import Limits, RejectedFile, format_size
from parsing.sections import RawSection, SectionBuilder, clean_heading

_HEADING_STYLE = re.compile(r"^heading\s*([1-6])$", re.IGNORECASE)
_DAMAGED_HINT = "Open it in Word, save a fresh copy as .docx, and upload that."


def check_zip(data: bytes, name: str, limits: Limits) -> None:
    """Reject archives that are invalid, encrypted, or would inflate dangerously.

    Member sizes come from the central directory, which zipfile also uses to
    bound every read, so a member cannot inflate past its declared size.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:  # zipfile raises many types on hostile archives
        raise _damaged(name) from None
    if len(members) > limits.max_zip_members:
        raise _bomb(f"{name} holds {len(members):,} files inside; a Word document has a few dozen")
    if sum(member.file_size for member in members) > limits.max_decompressed_bytes:
        size = format_size(limits.max_decompressed_bytes)
        raise _bomb(f"{name} expands to more than {size} when unpacked")
    for member in members:
        if member.file_size / max(member.compress_size, 1) > limits.max_compression_ratio:
            raise _bomb(f"{name} contains a part that expands over {limits.max_compression_ratio}x when unpacked")
        if member.flag_bits & 0x1:
            raise RejectedFile(
                f"{name} is protected with a password.",
                "Remove the password in Word (File > Info > Protect Document), save it, and upload it again.",
                code="encrypted",
            )


def parse_docx(data: bytes, name: str, limits: Limits) -> tuple[list[RawSection], str | None]:
    """Extract sections from a DOCX; returns (sections, title).

    Headings come from paragraph styles "Title" (level 1) and "Heading 1".."Heading 6";
    each table row becomes one paragraph of its cells joined with " | ". The
    title is the first "Title" paragraph, else the first heading, else the
    document properties' title.
    """
    check_zip(data, name, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except ValueError as error:
        if "is not a Word file" in str(error):
            raise RejectedFile(
                f"{name} is a macro-enabled or template Word file, which orgtune can't read.",
                "Save it in Word as a regular Word Document (.docx) and upload that.",
                code="unsupported",
            ) from None
        raise _damaged(name) from None
    builder = SectionBuilder()
    title: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row_text in _table_rows(block):
                builder.paragraph(row_text)
            continue
        level = _heading_level(block)
        if level is None:
            builder.paragraph(_list_prefix(block) + block.text)
            continue
        builder.heading(block.text, level)
        if title is None and _style_name(block) == "title":
            title = clean_heading(block.text) or None
    fallback = clean_heading(document.core_properties.title or "") or None
    return builder.sections, title or builder.first_heading or fallback


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError, AttributeError):
        return ""  # a dangling style reference; treat as body text
    return (style.name or "").strip().lower() if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    name = _style_name(paragraph)
    if name == "title":
        return 1
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _list_prefix(paragraph: Paragraph) -> str:
    return "- " if _style_name(paragraph).startswith("list") else ""


def _table_rows(table: Table) -> Iterator[str]:
    """One string per row; merged cells (repeated by python-docx) appear once."""
    for row in table.rows:
        seen: set[int] = set()
        cells: list[str] = []
        nested: list[Table] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
            nested.extend(cell.tables)
        if cells:
            yield " | ".join(cells)
        for inner in nested:
            yield from _table_rows(inner)


def _bomb(reason: str) -> RejectedFile:
    return RejectedFile(
        f"{reason}, which looks like a zip bomb.",
        "If this is a real document, save a fresh copy from Word (or export it as PDF) and upload that.",
        code="zip_bomb",
    )


def _damaged(name: str) -> RejectedFile:
    return RejectedFile(f"{name} is damaged and could not be read as a Word document.", _DAMAGED_HINT, code="corrupt")
