"""Decode untrusted bytes to clean text, or decide they are not text at all."""

from __future__ import annotations

import codecs
import re
import unicodedata

import charset_normalizer

from parsing.model import Limits, RejectedFile

# Longest BOMs first: the UTF-32-LE BOM begins with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Everything a text file should not contain: C0/C1 controls except \t and \n
# (line breaks are normalised before this runs), lone surrogates, U+FFFD.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")
# Invisible characters that only disturb word counting and matching.
_INVISIBLE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
# Unicode and legacy line/page separators become newlines.
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")

# Non-ASCII characters that occur in Western European text (cp1252 repertoire,
# minus rarities such as "¹" and "¤" that betray other code pages).
_WESTERN = "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŸŽž“”‘’„‚–—…•€™©®°£§«»¿¡×\xa0"
_NOT_WESTERN = re.compile(f"[^\x00-\x7f{_WESTERN}]")
# Share of accented letters above which a cp1252 reading is mojibake; real
# French or German text stays under 10%.
_MAX_ACCENTED_SHARE = 0.3

# Encodings real uploads use, in charset_normalizer's spelling.
_COMMON_ENCODINGS = frozenset(
    {"cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp932", "shift_jis"}
    | {"euc_jp", "gb18030", "gb2312", "big5", "cp949", "euc_kr", "utf_16", "utf_16_le", "utf_16_be", "utf_32"}
)
# Guesses whose chaos differs by less than this are equally plausible.
_CLOSE_CHAOS = 0.01

SUPPORTED_HINT = "Upload a PDF, Word (.docx), Markdown, HTML or plain-text document."


def decode_text(data: bytes, name: str, limits: Limits) -> str:
    """Decode `data` and return cleaned text (see `clean_text`).

    Raises RejectedFile(code="binary") when no encoding yields plausible text:
    undecodable bytes, NUL characters, or a control-character ratio above
    `limits.max_control_ratio`.
    """
    text = _decode(data)
    if text is None or "\x00" in text:
        raise _binary(name)
    normalised = _LINE_BREAKS.sub("\n", text)
    cleaned, controls = _CONTROL.subn("", normalised)
    if normalised and controls / len(normalised) > limits.max_control_ratio:
        raise _binary(name)
    return unicodedata.normalize("NFC", _INVISIBLE.sub("", cleaned))


def clean_text(text: str) -> str:
    """Normalise newlines to "\\n" and drop control and invisible characters.

    For text that arrives already decoded (PDF pages, DOCX paragraphs).
    """
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", text))
    return unicodedata.normalize("NFC", _INVISIBLE.sub("", text))


def _decode(data: bytes) -> str | None:
    """BOM first, then strict UTF-8, then Western cp1252, then charset_normalizer's best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                # FF FE 00 00 may also be a UTF-16 BOM followed by a NUL; keep trying.
                continue
    if b"\x00" not in data:  # NULs are UTF-16/32 without a BOM (or binary), never UTF-8 text
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    western = _western(data)
    if western is not None:
        return western
    guessed = _guess(data)
    if guessed is None:
        return None
    try:
        return data.decode(guessed)
    except (UnicodeDecodeError, LookupError):
        return None


def _guess(data: bytes) -> str | None:
    """charset_normalizer's pick, preferring a widespread encoding among near-equal ones.

    On short texts it ranks e.g. mac_cyrillic above cp1251 by a hair; the
    common Windows/CJK code pages are far more likely in real uploads.
    """
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        return None
    for match in results:
        close = match.chaos <= best.chaos + _CLOSE_CHAOS and match.coherence >= best.coherence / 2
        if close and match.encoding in _COMMON_ENCODINGS:
            return match.encoding
    return best.encoding


def _western(data: bytes) -> str | None:
    """The cp1252 reading of `data` if it looks like Western European text, else None.

    charset_normalizer often mistakes short French or German cp1252 text for
    Baltic or Central European code pages, and cp1252 is by far the most common
    legacy encoding. Cyrillic or Greek text read as cp1252 is almost all
    accented letters, and Polish or Czech brings symbols like "¹", so both
    fail these tests and go to charset_normalizer instead.
    """
    if b"\x00" in data:
        return None  # NUL bytes: UTF-16 without BOM, or binary
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    foreign = _NOT_WESTERN.findall(text)
    accented = sum(1 for ch in text if ord(ch) > 127 and ch.isalpha())
    letters = accented + sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if foreign or not letters or accented / letters > _MAX_ACCENTED_SHARE:
        return None
    return text


def _binary(name: str) -> RejectedFile:
    return RejectedFile(
        f"{name} looks like binary data, not text.",
        f"Check that you picked the right file. {SUPPORTED_HINT}",
        code="binary",
    )
