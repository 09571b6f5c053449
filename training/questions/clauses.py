"""Clause parsing for the question rules: splitting a sentence into clauses, and the words before a value
into subject, auxiliary and verb (with do-support), so a statement can be turned into a question."""

from __future__ import annotations

import re

from training.questions.context import Context, word_set
from training.questions.language import AUX, DETERMINERS, PAREN, cut, is_proper, render, verb_form

_WH_PREPS = word_set("every within after before for by at on from between in until")
PREPOSITIONS = _WH_PREPS | word_set("of to with into over under through via about per than as without like")
_QUALIFIERS = tuple(
    q.split()
    for q in (
        "a maximum of", "a minimum of", "a total of", "no more than", "at least", "at most", "up to", "more than",
        "less than", "a further", "your first", "the first", "their first", "only", "the",
    )
)  # fmt: skip
BLOCKERS = word_set("and or but that which who whom whose if when once because than not never no cannot they it")
_SUBJECT_BLOCKERS = BLOCKERS | word_set("it this these those they them there he she where")
_SUBORDINATORS = word_set("if when once unless while because although since as")


def clauses(sentence: str) -> list[tuple[str, str]]:
    """(clause, tail) pairs: parentheses, labels and connectives dropped; "If X, Y" becomes (Y, " if X");
    "After N days, Y" becomes "Y after N days"; "A is B and must C" also yields "A must C"."""
    text = PAREN.sub("", sentence)
    text = re.sub(r"^[A-Z][\w -]{0,30}: (?=[a-z])", "", text)
    text = re.sub(r"^(?:In addition|Additionally|Also|However|Otherwise|For example),\s+", "", text)
    result = []
    for part in re.split(r";\s+", text.rstrip(".!?")):
        tail = ""
        condition = re.match(r"(If|When|Once|Unless|While) ([^,]{3,80}), (.+)$", part)
        fronted = re.match(r"((?:after|within|for|on|by|before|during|from) [^,]{3,60}), (.+)$", part, re.I)
        if condition:
            part, tail = condition[3], f" {condition[1].lower()} {condition[2]}"
        elif fronted:
            part = f"{cut(fronted[2])} {fronted[1][0].lower()}{fronted[1][1:]}"
        result.append((part, tail))
        joined = re.search(r",? and (?=(?:must|may|can|should|will|is|are|was|were)\b)", part)
        split = split_words(part[: joined.start()].split()) if joined else None
        if joined and split:
            result.append((" ".join(part.split()[: split[0]]) + " " + part[joined.end() :], tail))
    return result


def split_words(left: list[str]) -> tuple[int, str, list[str]] | None:
    """(subject length, aux, verb words) for the words before a value; content verbs get do-support."""
    at = next((i for i, w in enumerate(left) if i > 0 and w.lower() in AUX), None)
    if at is not None:
        aux, verb = left[at].lower(), left[at + 1 :]
        if aux in ("has", "have", "had") and not (verb and (verb_form(verb[0]) or ("", ""))[1] == "past"):
            aux, verb = {"has": "does", "have": "do", "had": "did"}[aux], ["have", *verb]
        return at, aux, verb
    for i, word in enumerate(left[1:], 1):
        form = verb_form(word)
        if form and form[1] != "ing" and left[i - 1].lower() not in DETERMINERS:
            return i, {"base": "do", "s": "does", "past": "did"}[form[1]], [form[0], *left[i + 1 :]]
    return None


def split_clause(left: list[str], ctx: Context) -> tuple[list[str], str, list[str]] | None:
    """(rendered subject, aux, verb words), checking subject-verb agreement for do-support."""
    split = split_words(left)
    if split is None:
        return None
    at, aux, verb = split
    if aux in ("do", "does") and not _agrees(left[:at], aux, ctx):
        return None
    subject = parse_subject(left[:at], ctx)
    return (subject, aux, verb) if subject else None


def _agrees(subject: list[str], aux: str, ctx: Context) -> bool:
    last = subject[-1].lower()
    plural = last in ("i", "you", "we", "they") or (
        last.endswith("s") and not last.endswith("ss") and not is_proper(subject[-1], ctx)
    )
    return plural == (aux == "do")


def parse_subject(words: list[str], ctx: Context) -> list[str] | None:
    """The subject as it reads inside a question ("every full-time employee", "I"), or None if unusable."""
    if ctx.is_intro and " ".join(words).lower() in ("it", "this policy", "this page", "this guide", "this document"):
        return ctx.label.split()
    if not 1 <= len(words) <= 8 or words[0].lower() in _SUBORDINATORS | PREPOSITIONS - {"every"}:
        return None
    if any(w.lower() in _SUBJECT_BLOCKERS or not re.fullmatch(r"[\w'’-]+", w) for w in words):
        return None
    verbs = [i for i, w in enumerate(words) if i > 0 and (verb_form(w) or ("", "ing"))[1] != "ing"]
    if any(words[i - 1].lower() not in DETERMINERS for i in verbs):
        return None
    rendered = render(words, subject=True)
    if rendered[0] != "I" and not is_proper(rendered[0], ctx):
        rendered[0] = rendered[0].lower()
    return rendered


def strip_prep(verb: list[str]) -> tuple[list[str], str | None]:
    """Drop qualifiers ("at least", "up to") and split off the preposition right before the value."""
    words = _strip_qualifiers(verb)
    if words and words[-1].lower() in _WH_PREPS:
        return _strip_qualifiers(words[:-1]), words[-1].lower()
    return words, None


def _strip_qualifiers(words: list[str]) -> list[str]:
    words = list(words)
    while True:
        lowered = [w.lower() for w in words]
        found = next((q for q in _QUALIFIERS if len(q) <= len(words) and lowered[-len(q) :] == q), None)
        if found is None:
            return words
        words = words[: -len(found)]
