"""Deterministic training examples from a channel's documents (rule-based, no model).

Rules turn the sentences of each section into question/answer pairs: numbers,
named things, definitions, procedures, section overviews and one summary per
document. Some real questions are paired with passages that do not contain
their answer (and a few off-topic ones with any passages) to teach
"The documents don't cover this." Every example carries BM25-retrieved passages
in the shared prompt format (`training.prompts`), so training prompts look like
answering prompts.

Invariants of every answerable example: `quote` is a verbatim substring of its
section's text and of `passages[source - 1].text`; `expected` is in `answer`
and in `quote` and not in `question` (as `scoring.contains` sees it).

Layout (top to bottom): Example; the public functions; selection and
passages; candidate assembly (contexts, drafts -> checked Examples); the
`__main__` sample printer. The rules themselves (document/section level,
values, amounts and list items, names, tools, definitions, obligations) live
in the private package `training.questions` and only meet this module through
`section_drafts`.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from orgtune.defaults import HELDOUT_FRACTION, MIN_HELDOUT_EXAMPLES, PASSAGES_PER_PROMPT
from retrieval import BM25Index, Chunk, DocumentText, chunk_documents
from training.prompts import NOT_COVERED, Passage, assistant_message, chat
from training.questions import Context, Draft, doc_label, known_tools, section_drafts, vocabulary
from training.scoring import contains, normalize

FACTUAL_KINDS = frozenset({"number", "fact", "definition"})


# Order in which a section offers its candidates, rotated per section so documents get varied kinds;
# "section" overviews exist for every section, so they come last.
_KIND_ORDER = ("number", "fact", "definition", "procedure", "summary")

GENERIC_QUESTIONS = (
    "What is the company's stock ticker?",
    "Who won the office chess tournament?",
    "What is the dress code for the summer party?",
    "Which football team does the finance director support?",
    "How many floors does the head office building have?",
    "What is on the canteen menu on Fridays?",
    "Who designed the company logo?",
    "What was the theme of last year's holiday party?",
    "What is the name of the office cat?",
    "Which radio station plays in the workshop?",
    "How many people work in the marketing team?",
    "What is the company's favourite charity bake sale recipe?",
)


@dataclass(frozen=True)
class Example:
    """One training or evaluation example.

    For kind "not_covered": answer is NOT_COVERED, quote/document/section are "",
    expected and source are None, and document_id is the document the example
    was counted toward (None only when built without one).
    """

    kind: str
    question: str
    answer: str
    quote: str
    expected: str | None
    document_id: int | None
    document: str
    section: str
    passages: tuple[Passage, ...]
    source: int | None

    @property
    def target(self) -> str:
        """The assistant turn: the answer alone, or exactly NOT_COVERED."""
        return assistant_message(self.answer, self.source)

    def messages(self) -> list[dict[str, str]]:
        """System, user and assistant messages for a chat template."""
        return chat(self.question, self.passages, self.target)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; `from_dict` restores an equal Example."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["passages"] = [{"document": p.document, "section": p.section, "text": p.text} for p in self.passages]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        passages = tuple(Passage(p["document"], p["section"], p["text"]) for p in data["passages"])
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name != "passages"}
        return cls(**fields, passages=passages)


# --- Public entry points ------------------------------------------------------


def generate_examples(docs: Sequence[DocumentText], max_per_doc: int, seed: int = 0) -> list[Example]:
    """Up to `max_per_doc` examples per document, not-covered ones included, deterministic per seed.

    Each document's answerable examples are picked round-robin over its
    sections with rotating kinds; about one in eight examples is not_covered.
    Questions are unique across the whole result. The result interleaves
    documents (and spreads each document's not_covered examples), so any
    prefix of it is a balanced sample.
    """
    if max_per_doc <= 0 or not docs:
        return []
    index = BM25Index(chunk_documents(docs))
    candidates = _candidates(docs, index, seed)
    quota = max(1, round(max_per_doc / 8)) if max_per_doc >= 3 else 0
    used: set[str] = set()
    picked = {doc.id: _pick(candidates[doc.id], max_per_doc - quota, seed + i, used) for i, doc in enumerate(docs)}
    # Not-covered questions come from unpicked number/fact candidates, preferring sections that are also trained
    # with their real passages, so the model learns that the passages, not the question, decide the answer.
    trained = {(e.document_id, e.section) for chosen in picked.values() for e in chosen}
    leftovers = {
        doc.id: sorted(
            (e for e in candidates[doc.id] if e.kind in ("number", "fact")),
            key=lambda e: (e.document_id, e.section) not in trained,
        )
        for doc in docs
    }
    generic = deque(
        GENERIC_QUESTIONS[seed % len(GENERIC_QUESTIONS) :] + GENERIC_QUESTIONS[: seed % len(GENERIC_QUESTIONS)]
    )
    per_doc: list[list[Example]] = []
    for i, doc in enumerate(docs):
        mine = list(picked[doc.id])
        for j in range(quota):
            order = [docs[(i + 1 + step) % len(docs)].id for step in range(len(docs))]
            example = _not_covered_example(doc.id, order, leftovers, generic, (i + j) % 2 == 1, index, seed, used)
            if example is not None:
                mine.insert((j + 1) * len(mine) // (quota + 1), example)
        per_doc.append(mine)
    return [mine[k] for k in range(max(map(len, per_doc), default=0)) for mine in per_doc if k < len(mine)]


def all_candidates(docs: Sequence[DocumentText], seed: int = 0) -> list[Example]:
    """Every answerable example the rules produce for `docs`, before any selection (for inspection and tests)."""
    index = BM25Index(chunk_documents(docs))
    by_doc = _candidates(docs, index, seed)
    return [example for doc in docs for example in by_doc[doc.id]]


def split_heldout(
    examples: Sequence[Example], fraction: float = HELDOUT_FRACTION, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(train, heldout): disjoint, deterministic, each in input order.

    Held-out size is round(len * fraction), at least MIN_HELDOUT_EXAMPLES when
    there are >= 2 * MIN_HELDOUT_EXAMPLES examples, and never all of them. It
    takes one not_covered example (more in proportion, when there are many) if
    any exist and it has at least two slots; the rest are factual kinds
    ("number", "fact", "definition") spread over documents, then other kinds
    only if factual ones run out.
    """
    n = len(examples)
    size = round(n * fraction)
    if n >= 2 * MIN_HELDOUT_EXAMPLES:
        size = max(size, MIN_HELDOUT_EXAMPLES)
    size = max(0, min(size, n - 1))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    not_covered = [i for i in order if examples[i].kind == "not_covered"]
    factual = _spread([i for i in order if examples[i].kind in FACTUAL_KINDS], examples)
    others = [i for i in order if examples[i].kind not in FACTUAL_KINDS and examples[i].kind != "not_covered"]
    share = max(1, round(size * len(not_covered) / n)) if not_covered and size >= 2 else 0
    held = (not_covered[:share] + factual + others + not_covered[share:])[:size]
    chosen = set(held)
    return [e for i, e in enumerate(examples) if i not in chosen], [examples[i] for i in sorted(chosen)]


def _spread(indices: list[int], examples: Sequence[Example]) -> list[int]:
    """Reorder so consecutive picks come from different documents (round-robin by document)."""
    queues: dict[int | None, deque[int]] = {}
    for i in indices:
        queues.setdefault(examples[i].document_id, deque()).append(i)
    result: list[int] = []
    while any(queues.values()):
        result += [queue.popleft() for queue in queues.values() if queue]
    return result


# --- Selection ------------------------------------------------------------------


def _pick(candidates: list[Example], budget: int, rotation: int, used: set[str]) -> list[Example]:
    """Round-robin over sections, each offering its candidates with kinds interleaved; skips used questions."""
    groups: dict[str, list[Example]] = {}
    for example in candidates:
        groups.setdefault(example.section, []).append(example)
    queues = [deque(_interleave(group, rotation + i)) for i, group in enumerate(groups.values())]
    picked: list[Example] = []
    facts: set[tuple[str, str]] = set()  # one question per fact and per quote, so picks cover more ground
    while len(picked) < budget and any(queues):
        for queue in queues:
            while queue and len(picked) < budget:
                example = queue.popleft()
                fact, quote = (example.section, normalize(example.expected or "")), (example.section, example.quote)
                if normalize(example.question) in used or fact in facts or quote in facts:
                    continue
                used.add(normalize(example.question))
                facts.update((fact, quote))
                picked.append(example)
                break
    return picked


def _interleave(group: list[Example], rotation: int) -> list[Example]:
    kinds = _KIND_ORDER[rotation % len(_KIND_ORDER) :] + _KIND_ORDER[: rotation % len(_KIND_ORDER)] + ("section",)
    buckets = [deque(e for e in group if e.kind == kind) for kind in kinds]
    result: list[Example] = []
    while any(buckets):
        result += [bucket.popleft() for bucket in buckets if bucket]
    return result


def _not_covered_example(
    doc_id: int,
    order: list[int],
    leftovers: dict[int, list[Example]],
    generic: deque[str],
    generic_first: bool,
    index: BM25Index,
    seed: int,
    used: set[str],
) -> Example | None:
    """A not_covered example counted toward `doc_id`: a real question from another document
    (the next in `order` with unused candidates) with its source section and every chunk
    containing its answer excluded, or a generic off-topic question."""
    real = next((e for i in order for e in leftovers[i] if normalize(e.question) not in used), None)
    off_topic = next((q for q in generic if normalize(q) not in used), None)
    question = (off_topic or (real and real.question)) if generic_first else ((real and real.question) or off_topic)
    if not question:
        return None
    used.add(normalize(question))

    def exclude(chunk: Chunk) -> bool:
        if real is None or question != real.question:
            return False
        same_section = chunk.document_id == real.document_id and chunk.section == real.section
        return same_section or contains(chunk.text, real.expected or "")

    chunks = _fill([c for c, _ in index.search(question, PASSAGES_PER_PROMPT, exclude)], index, exclude, question, seed)
    passages = tuple(c.passage() for c in chunks)
    return Example("not_covered", question, NOT_COVERED, "", None, doc_id, "", "", passages, None)


def _fill(chunks: list[Chunk], index: BM25Index, exclude: Callable[[Chunk], bool], key: str, seed: int) -> list[Chunk]:
    """Top up to PASSAGES_PER_PROMPT with other (deterministically random) chunks when BM25 found too few."""
    spare = [c for c in index.chunks if c not in chunks and not exclude(c)]
    random.Random(f"{seed}|fill|{key}").shuffle(spare)
    return chunks + spare[: max(0, PASSAGES_PER_PROMPT - len(chunks))]


def _passages(question: str, gold: Chunk, index: BM25Index, seed: int) -> tuple[tuple[Passage, ...], int]:
    """(passages, 1-based source): the gold chunk at a seeded position among the best-ranked distractors."""
    ranked = [c for c, _ in index.search(question, PASSAGES_PER_PROMPT + 1) if c != gold][: PASSAGES_PER_PROMPT - 1]
    others = _fill([*ranked, gold], index, lambda c: False, question, seed)
    others.remove(gold)
    position = random.Random(f"{seed}|{question}").randrange(len(others) + 1)
    chunks = [*others[:position], gold, *others[position:]]
    return tuple(c.passage() for c in chunks), position + 1


# --- Candidates -----------------------------------------------------------------


def _candidates(docs: Sequence[DocumentText], index: BM25Index, seed: int) -> dict[int, list[Example]]:
    """Answerable candidates per document id, in section order, questions unique across documents."""
    proper, lower = vocabulary(docs)
    tools = known_tools(docs)
    seen: set[str] = set()
    result: dict[int, list[Example]] = {}
    for doc in docs:
        ctx = Context(index, seed, proper, lower, tools, doc, doc_label(doc))
        result[doc.id] = []
        for section_index in range(len(doc.sections)):
            section_ctx = replace(ctx, section_index=section_index)
            for draft in section_drafts(section_ctx):
                example = _example(draft, section_ctx)
                if example is not None and normalize(example.question) not in seen:
                    seen.add(normalize(example.question))
                    result[doc.id].append(example)
    return result


def _example(draft: Draft, ctx: Context) -> Example | None:
    """Check a draft against the invariants and attach passages; None when it fails any."""
    kind, question, answer, quote, expected = draft
    question = re.sub(r"\s+", " ", question).strip()
    question = question[:1].upper() + question[1:]
    ok = contains(answer, expected) and contains(quote, expected) and not contains(question, expected)
    if not ok or not question.endswith("?") or quote not in ctx.text or len(question.split()) > 30:
        return None
    gold = next((c for c in ctx.index.chunks if _same_section(c, ctx) and quote in c.text), None)
    if gold is None:
        return None
    passages, source = _passages(question, gold, ctx.index, ctx.seed)
    section = ctx.doc.sections[ctx.section_index].heading
    return Example(kind, question, answer, quote, expected, ctx.doc.id, ctx.doc.name, section, passages, source)


def _same_section(chunk: Chunk, ctx: Context) -> bool:
    return chunk.document_id == ctx.doc.id and chunk.section_index == ctx.section_index


def _handbook() -> list[DocumentText]:
    """The sample handbook shipped in samples/, as document ids 1..n."""
    from pathlib import Path

    from parsing import parse_document
    from retrieval import SectionText

    folder = Path(__file__).resolve().parent.parent / "samples" / "handbook"
    docs = []
    for i, path in enumerate(sorted(folder.iterdir()), 1):
        parsed = parse_document(path.read_bytes(), path.name)
        docs.append(DocumentText(i, path.name, tuple(SectionText(s.heading, s.text) for s in parsed.sections)))
    return docs


if __name__ == "__main__":
    import sys

    handbook = _handbook()
    everything = all_candidates(handbook)
    chosen = generate_examples(handbook, int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    print(f"{len(everything)} candidates, {len(chosen)} examples for {len(handbook)} documents")
    for kind in (*_KIND_ORDER, "section", "not_covered"):
        of_kind = [e for e in chosen if e.kind == kind]
        print(f"\n== {kind} ({len(of_kind)})")
        for example in of_kind[:: max(1, len(of_kind) // 6)][:6]:
            print(f"Q: {example.question}\n   expected={example.expected!r}  [{example.document} / {example.section}]")
            print(f"   A: {example.target!r}")
