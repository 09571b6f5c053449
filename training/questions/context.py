"""What the question rules know while reading a section, and the document-level facts it is built from.

`Context` is one section of one document plus corpus-wide knowledge (vocabulary, tool names, the BM25
index); a `Draft` is a rule's (kind, question, answer, quote, expected) before `training.examples`
checks it against the invariants.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from retrieval import BM25Index, DocumentText, sentence_spans


def word_set(text: str) -> frozenset[str]:
    """A word list written as one string, for readability."""
    return frozenset(text.split())


@dataclass(frozen=True)
class Context:
    """What the rules know while reading one section."""

    index: BM25Index
    seed: int
    proper: frozenset[str]  # words only ever written capitalised (names), never lowercased
    lower: frozenset[str]  # every word seen in lowercase
    tools: frozenset[str]  # names introduced as "our ... tool/system/app"
    doc: DocumentText
    label: str  # how questions name the document: "the Expense Policy"
    section_index: int = 0

    @property
    def heading(self) -> str:
        return strip_number(self.doc.sections[self.section_index].heading)

    @property
    def text(self) -> str:
        return self.doc.sections[self.section_index].text

    @property
    def is_intro(self) -> bool:
        return self.section_index == 0 and len(self.doc.sections) > 1


Draft = tuple[str, str, str, str, str]  # kind, question, answer, quote, expected


def split_sentences(text: str) -> list[str]:
    """Verbatim sentences without list markers; table rows are left to the table rule."""
    result = []
    for start, end in sentence_spans(text):
        sentence = re.sub(r"^(?:[-*•+]|\d+[.)])\s+", "", text[start:end])
        if " | " not in sentence and len(sentence.split()) >= 3:
            result.append(sentence)
    return result


def vocabulary(docs: Sequence[DocumentText]) -> tuple[frozenset[str], frozenset[str]]:
    """(proper, lower): words capitalised mid-sentence and never lowercase; all lowercase words."""
    capitalised, lower = set(), set()
    for doc in docs:
        for section in doc.sections:
            for sentence in split_sentences(section.text):
                for i, word in enumerate(re.findall(r"[A-Za-z][\w'-]*", sentence)):
                    if word[0].islower():
                        lower.add(word)
                    elif i > 0:
                        capitalised.add(word)
    return frozenset(w for w in capitalised if w.lower() not in lower), frozenset(lower)


_DOC_TYPES = word_set("policy guide handbook manual procedures guidelines playbook faq charter standard rules")


def doc_label(doc: DocumentText) -> str:
    """How questions name a document: "the Expense Policy" when its title names a kind of document,
    else "the benefits document" from the file name."""
    title = doc.sections[0].heading if len(doc.sections) > 1 else ""
    for part in reversed(re.split(r"\s+[-–—:|]\s+", title)):
        if part.split() and part.split()[-1].lower() in _DOC_TYPES:
            return f"the {part}"
    return f"the {PurePath(doc.name).stem.replace('-', ' ').replace('_', ' ')} document"


def strip_number(heading: str) -> str:
    return re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", heading).strip()
