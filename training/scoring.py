"""The one scoring rule for generated answers: held-out evaluation and `orgtune eval` both use it.

An answer is right when it contains the expected key answer as whole words,
after both are normalised the same way, and does not also claim the documents
don't cover the question. Expected None means the right answer *is* "not covered".
"""

from __future__ import annotations

import re

from training.prompts import is_not_covered, parse_reply

# Currency is noise for matching: "GBP 45", "£45" and "45" are the same answer.
_CURRENCY = re.compile(r"(?<![a-z])(?:gbp|usd|eur|chf|aud|cad|jpy)(?![a-z])|[£$€¥]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# '.' and ':' survive only between digits ("0.45", "09:30"); placeholders protect them from punctuation removal.
_NUMBER_SEPARATOR = re.compile(r"(?<=\d)[.:](?=\d)")
_PUNCTUATION = re.compile(r"[^\w\s\x00\x01]|_")


def normalize(text: str) -> str:
    """Lowercase; drop currency words and symbols (GBP, £, $, €) and thousands separators ("1,200" -> "1200");
    replace punctuation with spaces except '.' and ':' inside numbers ("09:30", "0.45"); collapse whitespace.

    Accents are kept: "café" and "cafe" stay different.
    """
    text = _CURRENCY.sub(" ", text.lower())
    text = _THOUSANDS.sub("", text)
    text = _NUMBER_SEPARATOR.sub(lambda m: "\x00" if m.group() == "." else "\x01", text)
    text = _PUNCTUATION.sub(" ", text).replace("\x00", ".").replace("\x01", ":")
    return " ".join(text.split())


def contains(text: str, phrase: str) -> bool:
    """True when normalize(phrase) occurs in normalize(text) as whole words.

    Word boundaries include numbers: "27" is not in "127", "0.45" is not in
    "10.45" and "45" is not in "0.45". An empty phrase is never contained.
    """
    needle = normalize(phrase)
    if not needle:
        return False
    pattern = rf"(?<!\w)(?<!\d[.:]){re.escape(needle)}(?!\w)(?![.:]\d)"
    return re.search(pattern, normalize(text)) is not None


def answer_part(generated: str) -> str:
    """The answer of a "Quote: ... / Answer: ..." reply (not its quote), or the whole text when it has none."""
    return parse_reply(generated).answer or generated


def is_correct(expected: str | None, generated: str) -> bool:
    """Score one generated reply against the expected key answer.

    expected None: correct iff the reply says the documents don't cover it
    (`prompts.is_not_covered`). Otherwise: correct iff the answer part (after
    "Answer:", falling back to the whole reply) contains `expected` (see
    `contains`) and the answer part does not claim not-covered. A posted answer
    (what the user sees) is plain text, so it is its own answer part.
    """
    if expected is None:
        return is_not_covered(generated)
    answer = answer_part(generated)
    return not is_not_covered(answer) and contains(answer, expected)
