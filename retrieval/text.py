"""Sentences and search terms: the text handling shared by chunking, BM25 and example generation."""

from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# A sentence ends at . ! ? (plus closing quotes or brackets) before whitespace, or at a CJK full stop.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|[。！？]+")
# "e.g. the" and "Dr. Smith" do not end sentences.
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "approx", "incl", "excl", "mr", "mrs", "ms", "dr", "st", "no", "fig", "cf", "jr", "sr"}
)

# Numbers keep their decimal point or time colon ("0.45", "09:30"); "1,200" is one number.
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.:]\d+)*"
_TOKEN = re.compile(rf"{_NUMBER}|[{_CJK}]|[^\W\d_{_CJK}][^\W_{_CJK}]*")

_STOPWORD_LIST = """a about according all also an and any are as at be been being both but by can could did do does
during each for from had has have how i if in into is it its many may me might much must my no not of on or our per
shall should so than that the their them then there these they this those to us was we were what when where which who
whom why will with would you your"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, in order, without surrounding whitespace.

    Line breaks always end a sentence, so list items, table rows and code lines
    are units of their own; `text[start:end]` is always a verbatim sentence.
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for end in _breaks(line.group()):
            _add_span(text, start, line.start() + end, spans)
            start = line.start() + end
        _add_span(text, start, line.end(), spans)
    return spans


def _breaks(line: str) -> list[int]:
    """Offsets in `line` just after each sentence end."""
    ends = []
    for match in _END.finditer(line):
        following = line[match.end() :].lstrip()
        if match.group()[0] in ".!?" and following and following[0].islower():
            continue
        before = line[: match.start()].split()
        word = before[-1].lstrip("(\"'").lower() if before else ""
        if match.group()[0] == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        ends.append(match.end())
    return ends


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        offset = start + len(piece) - len(piece.lstrip())
        spans.append((offset, offset + len(stripped)))


def stem(word: str) -> str:
    """A light suffix stemmer (plural s, -ing, -ed, final e, doubled consonants).

    It only has to map related forms to the same key ("days"/"day",
    "approved"/"approve", "travelling"/"travel"), not produce real words.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousz":
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Search terms of `text`: lowercased words and numbers, stopwords dropped, words stemmed.

    Thousands separators are removed ("1,200" and "1200" are the same term);
    every CJK character is a term of its own, since those scripts have no spaces.
    """
    terms = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group()
        if token[0].isdigit():
            terms.append(token.replace(",", ""))
        elif token not in STOPWORDS:
            terms.append(stem(token))
    return terms
