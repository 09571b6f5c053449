"""Tests for the parsing package, on real files built here (no mocks)."""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import random
import time
import zipfile
from collections.abc import Callable

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError

from orgtune import defaults
from parsing import (
    DEFAULT_LIMITS,
    Limits,
    ParsedDocument,
    RejectedFile,
    Section,
    detect_kind,
    parse_document,
    parse_in_sandbox,
    pdf_doc,
)

# --- Fixture builders ------------------------------------------------------------

VACATION_1 = (
    "Employees receive twenty five days of paid vacation per year. Requests go through the HR portal "
    "and need approval from your manager at least two weeks before the first day off. Unused days "
    "carry over into the first quarter of the following year and expire after that."
)
VACATION_2 = "Public holidays do not count against your vacation allowance."
REMOTE = "Staff may work remotely two days a week after their probation period ends."
EXPENSES = "Submit receipts within thirty days using the expenses form."
SECURITY = "Lock your screen whenever you leave your desk, even for a minute."
PDF_SECTIONS = [
    ("1. Vacation Policy", [VACATION_1, VACATION_2]),
    ("2. Remote Work", [REMOTE]),
    ("3. Expense Claims", [EXPENSES]),
    ("APPENDIX", [SECURITY]),
]


class _HandbookPdf(FPDF):
    def footer(self) -> None:
        # A running footer on every page, which the parser must drop.
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Staff Handbook - page {self.page_no()}", align="C")


def build_pdf(sections: list[tuple[str, list[str]]], pages: list[int], title: str = "Staff Handbook") -> bytes:
    """A text PDF; `pages[i]` is the page that section i starts on (new page when it changes)."""
    pdf = _HandbookPdf()
    pdf.set_title(title)
    current = 0
    for (heading, paragraphs), page in zip(sections, pages, strict=True):
        if page != current:
            pdf.add_page()
            current = page
        pdf.set_font("Helvetica", "B", 15)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def handbook_pdf() -> bytes:
    return build_pdf(PDF_SECTIONS, pages=[1, 1, 2, 3])


def encrypt_pdf(
    data: bytes, user_password: str, owner_password: str | None = None, algorithm: str | None = None
) -> bytes:
    """`algorithm` as pypdf names it ("RC4-128", "AES-128", "AES-256"); None is pypdf's default (RC4)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def guide_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Employee Guide", 0)  # style "Title"
    document.add_paragraph("Welcome to the company guide for all staff members.")
    document.add_heading("Leave", 1)
    document.add_paragraph("Everyone gets twenty five days of annual leave.")
    document.add_paragraph("Book leave in the HR portal.", style="List Bullet")
    document.add_heading("Sick leave", 2)
    document.add_paragraph("Report sickness to your manager before ten.")
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Type", (0, 1): "Days", (1, 0): "Annual", (1, 1): "25"}.items():
        table.cell(row, col).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def build_zip(members: dict[str, bytes], zeros: tuple[str, int] | None = None) -> bytes:
    """A deflated zip; `zeros` = (name, size) adds a member of `size` zero bytes, streamed in 1 MiB chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        if zeros is not None:
            chunk = bytes(1024 * 1024)
            with archive.open(zeros[0], "w", force_zip64=True) as member:
                for _ in range(zeros[1] // len(chunk)):
                    member.write(chunk)
    return out.getvalue()


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def rejected(call: Callable[[], object]) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        call()
    return info.value


def outline(document: ParsedDocument) -> list[tuple[str, int]]:
    return [(section.heading, section.level) for section in document.sections]


# --- Limits and data types -----------------------------------------------------------


def test_default_limits_come_from_orgtune_defaults() -> None:
    assert Limits() == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.max_bytes == defaults.MAX_FILE_BYTES
    assert DEFAULT_LIMITS.timeout_s == defaults.PARSE_TIMEOUT_S
    assert DEFAULT_LIMITS.memory_bytes == defaults.PARSE_MEMORY_BYTES
    assert DEFAULT_LIMITS.max_pdf_pages == defaults.MAX_PDF_PAGES
    assert DEFAULT_LIMITS.max_section_words == defaults.MAX_SECTION_WORDS
    assert DEFAULT_LIMITS.max_control_ratio == defaults.MAX_BINARY_CONTROL_RATIO


def test_rejected_file_keeps_reason_hint_and_code_across_pickle() -> None:
    error = RejectedFile("a.pdf is encrypted with a password.", "Remove it.", code="encrypted")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.hint, copy.code) == (error.reason, error.hint, "encrypted")


def test_document_word_and_char_totals_exclude_headings() -> None:
    document = ParsedDocument(
        "text", [Section("Long heading words", 1, "one two"), Section("H", 2, "three")], None, None
    )
    assert (document.words, document.chars) == (3, len("one two") + len("three"))


# --- PDF -------------------------------------------------------------------------------


def test_pdf_sections_follow_headings(handbook_pdf: bytes) -> None:
    document = parse_document(handbook_pdf, "handbook.pdf")
    assert (document.kind, document.pages, document.title) == ("pdf", 3, "Staff Handbook")
    assert outline(document) == [(heading, 1) for heading, _ in PDF_SECTIONS]
    for section, (_, paragraphs) in zip(document.sections, PDF_SECTIONS, strict=True):
        assert section.text.split() == " ".join(paragraphs).split()  # no footers, no page numbers
        assert section.words == len(" ".join(paragraphs).split())
    assert document.sections[0].text.startswith(VACATION_1[:40])
    assert document.words == sum(len(" ".join(p).split()) for _, p in PDF_SECTIONS)


def test_pdf_without_headings_falls_back_to_pages() -> None:
    body = "this line of lowercase prose has no heading at all and keeps going."
    data = build_pdf([("plain text starts here, lowercase.", [body]), ("and more lowercase text.", [body])], [1, 2])
    document = parse_document(data, "plain.pdf")
    assert [s.heading for s in document.sections] == ["Page 1", "Page 2"]
    assert document.sections[1].text == f"and more lowercase text.\n\n{body}"


def test_encrypted_pdf_is_rejected_with_advice(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_document(encrypt_pdf(handbook_pdf, "s3cret"), "report.pdf"))
    assert error.code == "encrypted"
    assert error.reason == "report.pdf is encrypted with a password."
    assert "Remove the password" in error.hint


def test_pdf_with_empty_user_password_opens(handbook_pdf: bytes) -> None:
    document = parse_document(encrypt_pdf(handbook_pdf, "", "owner-only"), "restricted.pdf")
    assert outline(document)[0] == ("1. Vacation Policy", 1)


# Handbooks are often "protected" only by restrictions (empty user password), with any of these ciphers.
PDF_CIPHERS = ["RC4-40", "RC4-128", "AES-128", "AES-256"]


@pytest.mark.parametrize("algorithm", PDF_CIPHERS)
def test_restriction_only_pdf_opens_in_the_sandbox(handbook_pdf: bytes, algorithm: str) -> None:
    data = encrypt_pdf(handbook_pdf, "", "owner-only", algorithm)
    # parse_in_sandbox is what ingest calls: decryption must work under its address-space cap.
    document = parse_in_sandbox(data, "restricted.pdf")
    assert document.sections == parse_document(handbook_pdf, "handbook.pdf").sections


def test_aes_decryption_fits_a_tight_sandbox_memory_cap(handbook_pdf: bytes) -> None:
    # The OpenSSL bindings are loaded before the fork; a child that had to map them
    # itself, or a cipher that needs large buffers, would fail under a small cap.
    data = encrypt_pdf(handbook_pdf, "", "owner-only", "AES-256")
    document = parse_in_sandbox(data, "restricted.pdf", Limits(memory_bytes=64 * 1024 * 1024))
    assert outline(document)[0] == ("1. Vacation Policy", 1)


@pytest.mark.parametrize("algorithm", PDF_CIPHERS)
def test_pdf_needing_a_password_is_refused_in_the_sandbox(handbook_pdf: bytes, algorithm: str) -> None:
    data = encrypt_pdf(handbook_pdf, "s3cret", "owner", algorithm)
    error = rejected(lambda: parse_in_sandbox(data, "report.pdf"))
    assert (error.code, error.reason) == ("encrypted", "report.pdf is encrypted with a password.")
    assert "Remove the password" in error.hint


def test_pdf_cipher_without_a_crypto_library_is_not_called_damaged(
    handbook_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What pypdf raises for AES when `cryptography` is missing (a broken install).
    def no_crypto(*args: object, **kwargs: object) -> PdfReader:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pdf_doc, "PdfReader", no_crypto)
    error = rejected(lambda: parse_document(encrypt_pdf(handbook_pdf, "", "owner-only"), "locked.pdf"))
    assert error.code == "encrypted"
    assert error.reason == "locked.pdf is encrypted in a way orgtune can't open."
    assert "unprotected copy" in error.hint


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + random.Random(7).randbytes(4000), b"%PDF-1.4\n1 0 obj <<"],
)
def test_corrupt_pdf_is_reported_as_damaged(data: bytes) -> None:
    error = rejected(lambda: parse_document(data, "broken.pdf"))
    assert error.code == "corrupt"
    assert error.reason == "broken.pdf is damaged and could not be read as a PDF."


def test_truncated_pdf_never_leaks_library_errors(handbook_pdf: bytes) -> None:
    for cut in (len(handbook_pdf) // 3, len(handbook_pdf) // 2, len(handbook_pdf) - 100):
        try:
            document = parse_document(handbook_pdf[:cut], "cut.pdf")
        except RejectedFile as error:
            assert error.code in {"corrupt", "no_text"}
        else:
            assert document.words > 0


def test_scanned_pdf_without_text_layer() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # an "image" and no text
    error = rejected(lambda: parse_document(bytes(pdf.output()), "scan.pdf"))
    assert error.code == "no_text"
    assert "scan" in error.hint and "DOCX" in error.hint


def test_too_many_pages(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_document(handbook_pdf, "book.pdf", Limits(max_pdf_pages=1)))
    assert error.code == "too_many_pages"
    assert error.reason == "book.pdf has 3 pages; orgtune accepts at most 1."


def test_pdf_deadline_is_checked_between_pages(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_document(handbook_pdf, "slow.pdf", Limits(timeout_s=0)))
    assert error.code == "timeout"
    assert error.reason == "slow.pdf took too long to read (more than 0 seconds)."


def test_pdf_text_over_the_character_limit(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_document(handbook_pdf, "long.pdf", Limits(max_text_chars=200)))
    assert error.code == "too_long"
    assert "more than 200 characters" in error.reason


# --- DOCX ------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_table(guide_docx: bytes) -> None:
    document = parse_document(guide_docx, "guide.docx")
    assert (document.kind, document.pages, document.title) == ("docx", None, "Employee Guide")
    assert outline(document) == [("Employee Guide", 1), ("Leave", 1), ("Sick leave", 2)]
    texts = [section.text for section in document.sections]
    assert texts == [
        "Welcome to the company guide for all staff members.",
        "Everyone gets twenty five days of annual leave.\n\n- Book leave in the HR portal.",
        "Report sickness to your manager before ten.\n\nType | Days\n\nAnnual | 25",
    ]
    assert document.words == 9 + 8 + 6 + 7 + 2 + 2  # "-" and "|" are not words


def test_docx_zip_bomb_by_total_size() -> None:
    bomb = build_zip({"[Content_Types].xml": CONTENT_TYPES}, zeros=("word/document.xml", 101 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024  # the upload is small; the expansion is the attack
    error = rejected(lambda: parse_document(bomb, "bomb.docx"))
    assert error.code == "zip_bomb"
    assert error.reason == "bomb.docx expands to more than 100 MB when unpacked, which looks like a zip bomb."


def test_docx_zip_bomb_by_compression_ratio() -> None:
    bomb = build_zip({"[Content_Types].xml": CONTENT_TYPES}, zeros=("word/document.xml", 2 * 1024 * 1024))
    error = rejected(lambda: parse_document(bomb, "ratio.docx", Limits(max_compression_ratio=50)))
    assert error.code == "zip_bomb"
    assert "expands over 50x" in error.reason


def test_docx_with_too_many_members(guide_docx: bytes) -> None:
    error = rejected(lambda: parse_document(guide_docx, "many.docx", Limits(max_zip_members=3)))
    assert error.code == "zip_bomb"


def test_docx_with_broken_xml_is_corrupt() -> None:
    data = build_zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document><unclosed"})
    error = rejected(lambda: parse_document(data, "broken.docx"))
    assert error.code == "corrupt"
    assert error.reason == "broken.docx is damaged and could not be read as a Word document."


def test_password_protected_docx_is_an_ole_file() -> None:
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(1024)
    error = rejected(lambda: parse_document(ole, "salaries.docx"))
    assert error.code == "encrypted"
    assert error.reason == "salaries.docx is protected with a password."
    assert "upload it again" in error.hint
    legacy = rejected(lambda: parse_document(ole, "old.doc"))
    assert legacy.code == "unsupported" and ".docx" in legacy.hint


# --- Text formats ---------------------------------------------------------------------

MARKDOWN = """# Onboarding *Guide*

Welcome to the team! Read the [handbook](https://example.com/handbook) and **ask** questions.

## First week

- Meet your _buddy_
- Set up your laptop

```bash
make setup
```

Benefits
--------

![chart](chart.png) Health insurance starts on day one.
"""


def test_markdown_sections_and_inline_syntax() -> None:
    document = parse_document(MARKDOWN.encode(), "onboarding.md")
    assert (document.kind, document.title) == ("markdown", "Onboarding Guide")
    assert outline(document) == [("Onboarding Guide", 1), ("First week", 2), ("Benefits", 2)]
    assert [s.text for s in document.sections] == [
        "Welcome to the team! Read the handbook and ask questions.",
        "- Meet your buddy\n\n- Set up your laptop\n\nmake setup",
        "chart Health insurance starts on day one.",
    ]


def test_markdown_text_before_first_heading_is_introduction() -> None:
    document = parse_document(b"Some words before any heading here.\n\n# Policies\n\nAll policies apply.\n", "n.txt")
    assert document.kind == "markdown"  # detected by its '# ' heading despite the .txt name
    assert outline(document) == [("Introduction", 1), ("Policies", 1)]


def test_plain_text_cp1252_with_headings() -> None:
    text = (
        "EMPLOYEE HANDBOOK\n\n1. Café policy\nThe café serves crème brûlée – “free” on Fridays.\n"
        "Coffee is free.\n\n1.1 Opening hours\nOpen from eight to five.\n\nShopping list:\n\n1. Apples\n2. Pears\n"
    )
    document = parse_document(text.encode("cp1252"), "policy.txt")
    assert (document.kind, document.title) == ("text", "EMPLOYEE HANDBOOK")
    assert outline(document) == [("1. Café policy", 1), ("1.1 Opening hours", 2)]
    assert document.sections[0].text == "The café serves crème brûlée – “free” on Fridays. Coffee is free."
    assert document.sections[1].text == "Open from eight to five.\n\nShopping list:\n\n1. Apples\n\n2. Pears"


def test_plain_text_utf16_with_bom_and_part_fallback() -> None:
    paragraph = "Ünïcode text in UTF-16 with a byte order mark, nothing else."
    data = "\n\n".join([paragraph] * 5).encode("utf-16")
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    document = parse_document(data, "notes.txt", Limits(max_section_words=25))
    assert [s.heading for s in document.sections] == ["Part 1", "Part 2", "Part 3"]
    assert [s.words for s in document.sections] == [22, 22, 11]
    assert document.sections[0].text == f"{paragraph}\n\n{paragraph}"


def test_plain_text_shift_jis() -> None:
    text = "社内規則\n\n休暇は年間二十日です。申請は人事ポータルから行ってください。\n" * 3
    document = parse_document(text.encode("shift_jis"), "規則.txt")
    assert document.kind == "text"
    assert "休暇は年間二十日です。" in document.sections[0].text
    assert document.words > 50  # CJK characters count as words


def test_html_drops_scripts_and_keeps_structure() -> None:
    html = (
        "\ufeff  <!DOCTYPE HTML><html><head><title>Travel &amp; Expenses</title><style>p {color: red}</style>"
        "<script>var secret = '<p>hidden</p>';</script></head><body><p>Read this before booking trips.</p>"
        "<h1>Booking</h1><p>Use the <b>travel</b> portal&nbsp;for flights.</p><ul><li>Economy class</li>"
        "<li>Hotels under budget</li></ul><noscript>Enable JavaScript</noscript><h2>Claims</h2>"
        "<table><tr><th>Item</th><th>Limit</th></tr><tr><td>Meals</td><td>50 EUR</td></tr></table></body></html>"
    )
    document = parse_document(html.encode(), "travel.html")
    assert (document.kind, document.title) == ("html", "Travel & Expenses")
    assert outline(document) == [("Travel & Expenses", 1), ("Booking", 1), ("Claims", 2)]
    assert [s.text for s in document.sections] == [
        "Read this before booking trips.",
        "Use the travel portal for flights.\n\n- Economy class\n\n- Hotels under budget",
        "Item | Limit\n\nMeals | 50 EUR",
    ]


# --- Detection and generic rejections -----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"%PDF-1.7\n...", "x.bin", "pdf"),
        (b"  <!doctype html><p>hi there</p>", "page.txt", "html"),
        ("\ufeff\n<HTML><body>x</body></HTML>".encode(), "p", "html"),
        (b"just words", "readme.md", "markdown"),
        (b"## Heading\ntext", "notes", "markdown"),
        (b"just plain words", "notes.txt", "text"),
    ],
)
def test_detect_kind_by_content_then_name(data: bytes, name: str, kind: str) -> None:
    assert detect_kind(data, name) == kind


def test_detect_docx_by_content(guide_docx: bytes) -> None:
    assert detect_kind(guide_docx, "renamed.bin") == "docx"


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
        (b"\xff\xd8\xff\xe0" + bytes(64), "JPEG image"),
        (b"\x7fELF\x02\x01" + bytes(64), "ELF"),
        (b"MZ\x90\x00" + bytes(64), "Windows program"),
        (b"\x1f\x8b\x08\x00" + bytes(64), "gzip"),
        (build_zip({"xl/workbook.xml": b"<x/>"}), "Excel"),
        (build_zip({"notes.txt": b"hello"}), "zip archive"),
    ],
)
def test_unsupported_formats_say_what_they_look_like(data: bytes, looks_like: str) -> None:
    error = rejected(lambda: detect_kind(data, "notes.txt"))
    assert error.code == "unsupported"
    assert error.reason.startswith("notes.txt looks like") and looks_like in error.reason


def test_binary_named_txt_is_rejected() -> None:
    noise = random.Random(1).randbytes(4096)
    error = rejected(lambda: parse_document(noise, "notes.txt"))
    assert error.code == "binary"
    assert error.reason == "notes.txt looks like binary data, not text."
    mostly_text = b"Hello there. This text has control bytes\x01\x02\x03\x04\x05\x06 in it." * 3
    assert rejected(lambda: parse_document(mostly_text, "notes.txt")).code == "binary"


@pytest.mark.parametrize("data", [b"", b"   \n\t  \r\n", "  \n ".encode("utf-16")])
def test_empty_and_blank_files(data: bytes) -> None:
    error = rejected(lambda: parse_document(data, "empty.txt"))
    assert error.code == "empty"
    assert error.reason.startswith("empty.txt ")


def test_too_large_file_names_size_and_limit() -> None:
    error = rejected(lambda: parse_document(b"x" * (3 * 1024 * 1024), "big.txt", Limits(max_bytes=2 * 1024 * 1024)))
    assert error.code == "too_large"
    assert error.reason == "big.txt is 3 MB; the largest file orgtune accepts is 2 MB."


def test_too_few_words() -> None:
    error = rejected(lambda: parse_document(b"# Title\n\nfew words", "short.md"))
    assert error.code == "no_text"
    assert error.reason == "short.md has only 2 words of text; orgtune needs at least 5."


def test_long_sections_split_at_sentence_boundaries() -> None:
    sentence = "This sentence has exactly seven words here. "
    text = "# Rules\n\n" + sentence * 20  # 140 words in one paragraph
    document = parse_document(text.encode(), "rules.md", Limits(max_section_words=50))
    assert [s.heading for s in document.sections] == ["Rules", "Rules (part 2)", "Rules (part 3)"]
    assert [s.words for s in document.sections] == [49, 49, 42]
    assert all(s.text.endswith("words here.") for s in document.sections)


def test_too_many_sections_and_too_much_text() -> None:
    text = "".join(f"# Heading {i}\n\nSome body text for section {i}.\n\n" for i in range(5)).encode()
    assert rejected(lambda: parse_document(text, "many.md", Limits(max_sections=4))).code == "too_long"
    assert rejected(lambda: parse_document(text, "many.md", Limits(max_text_chars=50))).code == "too_long"
    assert len(parse_document(text, "many.md", Limits(max_sections=5)).sections) == 5


def test_hostile_filename_is_sanitised_in_messages() -> None:
    error = rejected(lambda: parse_document(b"", "../../<!channel>\nevil" + "x" * 300 + ".txt"))
    assert "<" not in error.reason and "\n" not in error.reason
    assert len(error.reason) < 150 and ".txt" in error.reason


# --- Sandbox -------------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_sandbox_matches_in_process_parse_and_leaks_nothing(guide_docx: bytes, handbook_pdf: bytes) -> None:
    fds = _open_fds()
    for _ in range(3):
        assert parse_in_sandbox(guide_docx, "guide.docx") == parse_document(guide_docx, "guide.docx")
        assert parse_in_sandbox(handbook_pdf, "h.pdf").sections == parse_document(handbook_pdf, "h.pdf").sections
    assert multiprocessing.active_children() == []
    assert _open_fds() == fds


def test_sandbox_passes_rejections_through(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_in_sandbox(encrypt_pdf(handbook_pdf, "pw"), "report.pdf"))
    assert (error.code, error.reason) == ("encrypted", "report.pdf is encrypted with a password.")


def test_sandbox_timeout_kills_the_child(handbook_pdf: bytes) -> None:
    error = rejected(lambda: parse_in_sandbox(handbook_pdf, "slow.pdf", Limits(timeout_s=0.001)))
    assert error.code == "timeout"
    assert error.reason.startswith("slow.pdf took too long")
    assert multiprocessing.active_children() == []


def test_sandbox_kills_a_busy_child_at_the_deadline() -> None:
    slow = b"a\n" * 3_000_000  # several seconds of line-by-line Markdown parsing
    started = time.monotonic()
    error = rejected(lambda: parse_in_sandbox(slow, "slow.md", Limits(timeout_s=0.5)))
    assert error.code == "timeout"
    assert time.monotonic() - started < 2.5
    assert multiprocessing.active_children() == []


def test_sandbox_memory_exhaustion_spares_the_parent() -> None:
    # 4M words need hundreds of MiB of Python objects to split, far over a 32 MiB cap
    # (the text limit is raised so that memory, not length, is what stops it).
    data = b"word " * 4_000_000
    limits = Limits(memory_bytes=32 * 1024 * 1024, max_text_chars=50_000_000)
    error = rejected(lambda: parse_in_sandbox(data, "huge.txt", limits))
    assert error.code == "memory"
    assert error.reason == "huge.txt needs too much memory to read."
    assert parse_in_sandbox(b"The parent still parses fine.", "ok.txt").words == 5
