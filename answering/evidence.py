"""Evidence: the one sentence (or table row) of the retrieved passages that best answers a question.

A small model given two passages often picks a neighbouring number or invents
one. Answering therefore also ranks the passages' sentences against the question
and checks the generated answer against the best one: an answer is *grounded*
when every number and name it states occurs in that sentence. A grounded answer
is posted as generated; otherwise the sentence itself is posted as a quote (when
it supports the question well enough) or the reply is "not covered".

Table rows are read with their header, so "New York | 75 | 300" under
"City | Per diem | Hotel cap" becomes "City: New York; Per diem: 75; Hotel cap: 300".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval import BM25Index, Chunk, DocumentText, Similarity, sentence_spans, stem, tokenize
from retrieval.text import STOPWORDS
from training.scoring import normalize

_CELL_SPLIT = re.compile(r"\s*\|\s*")
_BULLET = re.compile(r"^(?:[-*•+]|\d{1,2}[.)])\s+")
_KEY_TOKEN = re.compile(r"\S*\d\S*|(?<![.!?:]\s)(?<!^)\b[A-Z][\w'-]*[A-Z0-9][\w'-]*|(?<![.!?:]\s)(?<!^)\b[A-Z][a-z]+")
EMBEDDING_WEIGHT = 0.5
"""Similarity counts half as much as lexical support: it bridges wording ('insurer' for 'insurance')
but also rates topical neighbours highly."""
_RANK_BONUS = 0.02
"""Tie-break toward sentences of the better-ranked passage."""


@dataclass(frozen=True)
class Evidence:
    text: str
    """The sentence as a reader should see it (table rows with their header)."""
    document: str
    section: str
    support: float
    """Share of the question's term weight (idf) found in the sentence and its section heading (0..1)."""
    similarity: float
    """Cosine similarity of question and sentence embeddings; equals `support` without an embedding model."""

    @property
    def relevance(self) -> float:
        """What ranks evidence and decides 'not covered': lexical support plus weighted similarity."""
        return self.support + EMBEDDING_WEIGHT * self.similarity


def rank_evidence(
    question: str,
    hits: Sequence[tuple[Chunk, float]],
    index: BM25Index,
    docs: Sequence[DocumentText],
    similarity: Similarity | None = None,
) -> list[Evidence]:
    """The sentences of the retrieved chunks, most relevant first."""
    wanted = {chunk.document for chunk, _ in hits}  # a channel may hold thousands of sections; hits touch few
    sections = {(d.name, s.heading): s.text for d in docs if d.name in wanted for s in d.sections}
    terms = set(index.query_terms(question))
    weights = {t: index.idf(t) for t in terms}
    total = sum(weights.values())
    found: list[tuple[int, Chunk, str, float]] = []
    for rank, (chunk, _) in enumerate(hits):
        section_text = sections.get((chunk.document, chunk.section), chunk.text)
        for sentence in _sentences(chunk.text, section_text):
            present = set(tokenize(sentence)) | set(tokenize(chunk.section))
            support = sum(w for t, w in weights.items() if t in present) / total if total else 0.0
            found.append((rank, chunk, sentence, support))
    texts = [f"{chunk.section}: {sentence}" for _, chunk, sentence, _ in found]
    sims = similarity(question, texts) if similarity and found else [support for *_, support in found]
    ranked = []
    for n, ((rank, chunk, sentence, support), sim) in enumerate(zip(found, sims, strict=True)):
        evidence = Evidence(sentence, chunk.document, chunk.section, support, sim)
        score = round(evidence.relevance + _RANK_BONUS * (len(hits) - rank), 6)
        # equal score: the shorter sentence is the denser match (a table row over the paragraph above it)
        ranked.append((score, -len(tokenize(sentence)), -n, evidence))
    ranked.sort(key=lambda item: item[:3], reverse=True)
    return [item[3] for item in ranked]


def _sentences(text: str, section_text: str) -> list[str]:
    out = []
    for start, end in sentence_spans(text):
        sentence = text[start:end].strip()
        if _is_row(sentence):
            header = _header_for(sentence, section_text)
            if header is None or header == sentence:
                continue  # a header alone answers nothing
            sentence = _read_row(header, sentence)
        sentence = strip_bullet(sentence)  # a quoted list item reads as a sentence
        if len(sentence.split()) >= 2:
            out.append(sentence)
    return out


def strip_bullet(sentence: str) -> str:
    """A list item as a sentence: its bullet or number removed."""
    return _BULLET.sub("", sentence)


def _is_row(line: str) -> bool:
    return line.count("|") >= 1 and len(_CELL_SPLIT.split(line.strip("| "))) >= 2


def _header_for(row: str, section_text: str) -> str | None:
    """The first row of the table (a run of `|` lines, blank lines allowed) that holds `row`."""
    header = None
    for line in section_text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not _is_row(line):
            header = None
            continue
        if header is None:
            header = line
        if line == row:
            return header
    return None


def _read_row(header: str, row: str) -> str:
    names = _CELL_SPLIT.split(header.strip("| "))
    cells = _CELL_SPLIT.split(row.strip("| "))
    if len(names) != len(cells):
        return row
    return "; ".join(f"{name}: {cell}" for name, cell in zip(names, cells, strict=True))


def key_tokens(text: str) -> list[str]:
    """Numbers, codes and capitalised names (not at a sentence start): what an answer must not invent."""
    return [t.strip(".,;:!?()\"'") for t in _KEY_TOKEN.findall(text.strip())]


def grounded(answer: str, evidence: str, question: str) -> bool:
    """True when the answer states nothing beyond the evidence and adds something to the question.

    Every key token (number, name) of the answer must occur in the evidence or
    the question, and when the evidence has key tokens the question lacks, the
    answer must state one of them (the fact asked for is usually one). Most of
    its content words must come from evidence or question, and at least one from
    the evidence alone, so an answer that only restates the question is not one.
    """
    source = normalize(evidence + " " + question)
    stated = {normalize(t) for t in key_tokens(answer) if t}
    if any(token not in source for token in stated):
        return False
    asked = normalize(question)
    new_facts = {normalize(t) for t in key_tokens(evidence) if t and normalize(t) not in asked}
    if new_facts and not stated & new_facts:
        return False
    words = _content(answer)
    if not words:
        return False
    known = _content(evidence) | _content(question)
    if sum(w in known for w in words) < 0.6 * len(words):
        return False
    return bool(words & (_content(evidence) - _content(question)))


def _content(text: str) -> set[str]:
    return {stem(t) for t in tokenize(text) if t not in STOPWORDS}
