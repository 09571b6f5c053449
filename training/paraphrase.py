"""More ways to ask the same question: the phrasings people actually type in Slack.

The rules in `training.questions` write one well-formed question per fact
("How many paid vacation days per year does a full-time employee get?"). People
ask "hey how many vacation days do we get" or "vacaton days per year?". A model
learns a fact from many phrasings, not one (Allen-Zhu & Li 2023; Ovadia et al.
2023), so each fact is trained with several: casual, terse (keywords only),
with a typo, or framed as part of a situation. Everything is deterministic per
seed and never adds words that carry the answer.
"""

from __future__ import annotations

import random
import re

from retrieval.text import STOPWORDS
from training.scoring import contains

STYLES = ("casual", "terse", "typo", "framed")
"""Paraphrase styles; each fact gets them in this order, starting at a seeded place."""

_OPENERS = ("hey, ", "hi! ", "quick q: ", "does anyone know ", "anyone know ", "sorry if this was asked before - ", "")
_FRAMES = (
    "I'm new here - {q}",
    "my manager asked me and I'm not sure: {q}",
    "before I book anything, {q}",
    "trying to plan ahead: {q}",
    "a colleague says it changed, so {q}",
    "can someone remind me {q}",
)
_CONTRACTIONS = (
    (r"\bwhat is\b", "what's"),
    (r"\bwho is\b", "who's"),
    (r"\bwhere is\b", "where's"),
    (r"\bhow is\b", "how's"),
    (r"\bdoes not\b", "doesn't"),
    (r"\bdo not\b", "don't"),
    (r"\bis not\b", "isn't"),
    (r"\bcan not\b|\bcannot\b", "can't"),
)
_PEOPLE = (
    (r"\b(?:an|each|every|a) (?:full-time )?(?:employee|staff member|team member|member of staff)\b", "I"),
    (r"\b(?:employees|staff members|team members)\b", "we"),
)
_DROP = STOPWORDS | {"does", "do", "did", "is", "are", "was", "were", "can", "could", "should", "would", "will"}


def paraphrases(question: str, expected: str, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to ``count`` (style, rephrasing) pairs of ``question``, none equal to it or to each other,
    none containing ``expected`` (they must not give the answer away)."""
    rng = random.Random(f"{seed}|{question}")
    first = rng.randrange(len(STYLES))
    out: list[tuple[str, str]] = []
    seen = {_key(question)}
    for style in STYLES[first:] + STYLES[:first]:
        if len(out) >= count:
            break
        text = _STYLE[style](question, rng)
        if text and _key(text) not in seen and not contains(text, expected):
            seen.add(_key(text))
            out.append((style, text))
    return out


def _key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _lower_start(question: str) -> str:
    """Lowercase the first word unless it is a name or an acronym ("Who" -> "who", "VPN" stays)."""
    first, _, rest = question.partition(" ")
    if first.isupper() or (first[:1].isupper() and any(c.isupper() for c in first[1:])):
        return question
    return f"{first.lower()} {rest}".strip()


def _casual(question: str, rng: random.Random) -> str:
    text = _lower_start(question)
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    for pattern, replacement in _PEOPLE:
        if re.search(pattern, text):
            text = re.sub(pattern, replacement, text, count=1)
            text = re.sub(r"\bI (gets|has|does|needs|receives|is)\b", lambda m: "I " + _first_person(m.group(1)), text)
            text = re.sub(r"\b(does|is|has) I\b", lambda m: _first_person(m.group(1)) + " I", text)
            text = re.sub(r"\b(does|is|has) we\b", lambda m: _first_person(m.group(1)) + " we", text)
            break
    opener = rng.choice(_OPENERS)
    if rng.random() < 0.5:
        text = text.rstrip("?")
    return opener + text


def _first_person(verb: str) -> str:
    return {"gets": "get", "has": "have", "does": "do", "needs": "need", "receives": "receive", "is": "am"}.get(
        verb, verb
    )


def _terse(question: str, rng: random.Random) -> str:
    words = [w for w in re.findall(r"[\w£$€'-]+", question) if w.lower() not in _DROP]
    if len(words) < 2:
        return ""
    text = " ".join(words)
    return (_lower_start(text) if rng.random() < 0.5 else text) + "?"


def _typo(question: str, rng: random.Random) -> str:
    text = _casual(question, rng).lower()
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not candidates:
        return ""
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]  # swapped letters
    else:
        words[i] = word[:j] + word[j + 1 :]  # a dropped letter
    return " ".join(words).rstrip("?")


def _framed(question: str, rng: random.Random) -> str:
    return rng.choice(_FRAMES).format(q=_lower_start(question))


_STYLE = {"casual": _casual, "terse": _terse, "typo": _typo, "framed": _framed}
