"""Decide what an upload is by its content first and its name second."""

from __future__ import annotations

import io
import re
import zipfile

from parsing.model import DEFAULT_LIMITS, Limits, RejectedFile
from parsing.names import display_name
from parsing.textdecode import SUPPORTED_HINT, decode_text

PDF_MAGIC = b"%PDF-"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
DOCX_MAIN_PART = "word/document.xml"

# Leading bytes of formats people upload by mistake, and what to call them.
_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "a Linux program (ELF executable)"),
    (b"\xca\xfe\xba\xbe", "a compiled program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x00asm", "a WebAssembly module"),
    (b"OggS", "an Ogg audio/video file"),
    (b"fLaC", "a FLAC audio file"),
    (b"ID3", "an MP3 audio file"),
    (b"%!PS", "a PostScript file"),
    (b"{\\rtf", "a Rich Text (RTF) document"),
)
# Content of the "mimetype" member that OpenDocument and EPUB zips start with.
_ZIP_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "an OpenDocument text file (.odt)",
    b"application/vnd.oasis.opendocument.spreadsheet": "an OpenDocument spreadsheet (.ods)",
    b"application/vnd.oasis.opendocument.presentation": "an OpenDocument presentation (.odp)",
    b"application/epub+zip": "an EPUB e-book",
}
_ZIP_MARKERS = (
    ("xl/workbook.xml", "an Excel spreadsheet (.xlsx)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (.pptx)"),
    ("visio/document.xml", "a Visio drawing"),
    ("AndroidManifest.xml", "an Android app"),
    ("META-INF/MANIFEST.MF", "a Java archive"),
)
_CONVERT_HINT = "Open it and save or export it as .docx or PDF, then upload that."
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^#{1,6} \S", re.MULTILINE)
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")
_HTML_NAMES = (".html", ".htm", ".xhtml")
# How far into a text file the <html>/<body> markers may appear (doctype, comments).
_HTML_SNIFF_CHARS = 1024


def detect_kind(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return "pdf", "docx", "html", "markdown" or "text" for `data`.

    Content decides first, the name second. Raises RejectedFile with code
    "empty", "unsupported", "binary", "encrypted" or "corrupt" for anything
    that is not one of those kinds.
    """
    return sniff(data, filename, limits)[0]


def sniff(data: bytes, filename: str, limits: Limits) -> tuple[str, str | None]:
    """Like `detect_kind`, but also return the decoded text for text kinds."""
    name = display_name(filename)
    lower = filename.lower()
    if not data.strip():
        raise RejectedFile(
            f"{name} is empty.", "Check that you picked the right file and upload it again.", code="empty"
        )
    if data.lstrip()[: len(PDF_MAGIC)] == PDF_MAGIC:
        return "pdf", None
    if data.startswith(OLE_MAGIC):
        raise _ole_rejection(name, lower)
    if data.startswith(ZIP_MAGICS):
        return _classify_zip(data, name, lower), None
    described = _describe_magic(data)
    if described is not None:
        raise unsupported(name, described)
    text = decode_text(data, name, limits)
    if not text.strip():
        raise RejectedFile(
            f"{name} contains only blank space.",
            "Check that you picked the right file and upload it again.",
            code="empty",
        )
    return _text_kind(text, lower), text


def unsupported(name: str, described: str, hint: str = "") -> RejectedFile:
    """Rejection for a recognised format orgtune does not read."""
    return RejectedFile(
        f"{name} looks like {described}, which orgtune can't read.",
        hint or SUPPORTED_HINT,
        code="unsupported",
    )


def _text_kind(text: str, lower_name: str) -> str:
    head = text.lstrip()[:_HTML_SNIFF_CHARS]
    if head.startswith("<") and (_HTML_START.search(head) or lower_name.endswith(_HTML_NAMES)):
        return "html"
    if lower_name.endswith(_MARKDOWN_NAMES) or _MARKDOWN_HEADING.search(text):
        return "markdown"
    return "text"


def _describe_magic(data: bytes) -> str | None:
    for magic, described in _MAGICS:
        if data.startswith(magic):
            return described
    # Short or common signatures: also require binary bytes so text is never misread.
    has_nul = b"\x00" in data[:64]
    if data.startswith(b"MZ") and has_nul:
        return "a Windows program (.exe)"
    if data[4:8] == b"ftyp" and has_nul:
        return "a video or HEIC photo"
    if data.startswith(b"RIFF") and data[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file"}.get(data[8:12], "an AVI video")
    if data.startswith(b"BZh") and data[4:10] == b"1AY&SY":
        return "a bzip2 archive"
    return None


def _ole_rejection(name: str, lower_name: str) -> RejectedFile:
    # Word stores password-protected .docx files inside an OLE container, and
    # OLE is also the pre-2007 .doc/.xls/.ppt format.
    if lower_name.endswith(".docx"):
        return RejectedFile(
            f"{name} is protected with a password.",
            "Remove the password in Word (File > Info > Protect Document), save it, and upload it again.",
            code="encrypted",
        )
    if lower_name.endswith(".doc"):
        return unsupported(
            name, "an old-format Word document (.doc)", "Open it in Word and save it as .docx, then upload that."
        )
    return unsupported(name, "an old-format Microsoft Office file", _CONVERT_HINT)


def _classify_zip(data: bytes, name: str, lower_name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = _read_mimetype(archive)
    except Exception:  # zipfile raises many types on hostile archives
        if lower_name.endswith(".docx"):
            raise RejectedFile(
                f"{name} is damaged: it is not a valid Word document.",
                "Open it in Word, save a fresh copy as .docx, and upload that.",
                code="corrupt",
            ) from None
        raise unsupported(name, "a damaged zip archive") from None
    if DOCX_MAIN_PART in names:
        return "docx"
    if mimetype in _ZIP_MIMETYPES:
        raise unsupported(name, _ZIP_MIMETYPES[mimetype], _CONVERT_HINT)
    for marker, described in _ZIP_MARKERS:
        if marker in names:
            raise unsupported(name, described, _CONVERT_HINT)
    raise unsupported(name, "a zip archive", f"Unzip it and upload the documents inside. {SUPPORTED_HINT}")


def _read_mimetype(archive: zipfile.ZipFile) -> bytes | None:
    try:
        info = archive.getinfo("mimetype")
    except KeyError:
        return None
    # The member is a few dozen bytes in every real file; never inflate a large one.
    if info.file_size > 128:
        return None
    return archive.read(info).strip()
