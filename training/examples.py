"""Training examples from a channel's documents, RAFT-style (Zhang et al. 2024).

Rules (or a teacher model, `training.teacher`) turn the sentences of each
section into facts: a question, a short answer, the verbatim quote that supports
it and the key answer. Each fact is asked in several phrasings
(`training.paraphrase`: casual, terse, with a typo, framed by a situation), each
with the gold passage among look-alike distractors retrieved the way answering
retrieves them (BM25), in seeded random order. The target quotes the supporting
sentence, then answers (`training.prompts`). A share of facts is also asked with
the gold passage left out, and some questions from other documents and off-topic
ones are asked too: their target is "The documents don't cover this.", so the
model learns that the passages, not the question, decide the answer.

Invariants of every answerable example: `quote` is a verbatim substring of its
section's text and of `passages[source - 1].text`; `expected` is in `answer`
and in `quote` and not in `question` (as `scoring.contains` sees it).

Layout (top to bottom): Example; the public functions; selection and
passages; candidate assembly (contexts, drafts -> checked Examples); the
`__main__` sample printer. Every example carries its `fact` (the document and
quote it is about) so that held-out examples can be split from training by
fact. The rules themselves (document/section level,
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

from orgtune.defaults import NO_GOLD_EVERY, PASSAGES_PER_PROMPT
from retrieval import BM25Index, Chunk, DocumentText, chunk_documents
from training.paraphrase import paraphrases
from training.prompts import NOT_COVERED, Passage, assistant_message, chat
from training.questions import Context, Draft, doc_label, known_tools, section_drafts, vocabulary
from training.scoring import contains, normalize

FACTUAL_KINDS = frozenset({"number", "fact", "definition", "teacher"})
UNANSWERED_KINDS = frozenset({"not_covered", "no_gold"})
OFF_TOPIC = "off-topic:"


# Order in which a section offers its candidates, rotated per section so documents get varied kinds;
# "section" overviews exist for every section, so they come last.
_KIND_ORDER = ("number", "fact", "definition", "procedure", "summary")
TEACHER_KIND = "teacher"
"""A teacher's question (`training.teacher`), offered before the rules' in every section that has one."""

ExtraDrafts = Callable[[DocumentText, int], Sequence[Draft]]
"""(document, section index) -> more drafts for that section (a teacher's), checked like the rules' own."""

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

    For kinds "not_covered" and "no_gold": answer is NOT_COVERED, quote/document/section
    are "", expected and source are None, and document_id is the document the example
    was counted toward (None only when built without one). "no_gold" asks an answerable
    fact of this channel with its gold passage left out; "not_covered" asks a question
    of another document the same way, or an off-topic one (fact "off-topic:...").
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
    phrasing: str = "direct"
    """How the question is phrased: "direct" (the rule's or teacher's own) or a paraphrase style."""
    fact: str = ""
    """What the example is about: "<document id>:<normalized quote>", or "off-topic:<question>".
    All phrasings of one fact share it, so a split by fact keeps them together."""

    @property
    def target(self) -> str:
        """The assistant turn: quote then answer, or exactly NOT_COVERED."""
        return assistant_message(self.answer, self.quote if self.source is not None else None)

    @property
    def off_topic(self) -> bool:
        """A question none of the channel's documents answer (as opposed to one asked without its passage)."""
        return self.fact.startswith(OFF_TOPIC)

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
        # rows stored before phrasings and facts existed lack those two fields: their defaults apply
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name != "passages" and name in data}
        return cls(**fields, passages=passages)


# --- Public entry points ------------------------------------------------------


def generate_examples(
    docs: Sequence[DocumentText],
    max_per_doc: int,
    seed: int = 0,
    phrasings: int = 1,
    extra: ExtraDrafts | None = None,
) -> list[Example]:
    """Examples about up to `max_per_doc` facts per document, deterministic per seed.

    Each document's facts are picked round-robin over its sections with rotating
    kinds; about one in eight is a not-covered question (another document's, or
    off-topic). Each answerable fact is asked in up to `phrasings` phrasings, and
    every NO_GOLD_EVERY-th fact once more without its gold passage. Questions are
    unique across the whole result. The result interleaves documents, so any
    prefix of it is a balanced sample. With `extra` (a teacher), its questions are
    candidates too, preferred to the rules', and its rewordings of a fact are used
    as that fact's phrasings before the rule-made paraphrases.
    """
    if max_per_doc <= 0 or not docs:
        return []
    index = BM25Index(chunk_documents(docs))
    candidates = _candidates(docs, index, seed, extra)
    alternates: dict[str, list[str]] = {}
    for example in (e for found in candidates.values() for e in found if e.kind == TEACHER_KIND):
        alternates.setdefault(example.fact, []).append(example.question)
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
    count = 0
    for i, doc in enumerate(docs):
        mine: list[Example] = []
        for fact in picked[doc.id]:
            count += 1
            others = [q for q in alternates.get(fact.fact, []) if q != fact.question]
            mine += _variants(fact, phrasings, index, seed, used, count % NO_GOLD_EVERY == 0, others)
        for j in range(quota):
            order = [docs[(i + 1 + step) % len(docs)].id for step in range(len(docs))]
            unanswered = _not_covered_example(doc.id, order, leftovers, generic, (i + j) % 2 == 1, index, seed, used)
            if unanswered is not None:
                mine.insert((j + 1) * len(mine) // (quota + 1), unanswered)
        per_doc.append(mine)
    return [mine[k] for k in range(max(map(len, per_doc), default=0)) for mine in per_doc if k < len(mine)]


def _variants(
    fact: Example,
    phrasings: int,
    index: BM25Index,
    seed: int,
    used: set[str],
    no_gold: bool,
    others: Sequence[str] = (),
) -> list[Example]:
    """The fact as picked, its other phrasings (a teacher's, then rule-made paraphrases; each with passages
    retrieved for its own wording), and when `no_gold` one more phrasing asked without any passage that
    holds the answer."""
    out = [fact]
    gold = _gold(fact, index)
    wanted = phrasings - 1 + (1 if no_gold else 0)
    fresh = [q for q in others if normalize(q) not in used]
    worded = [(TEACHER_KIND, q) for q in fresh[:wanted]]
    worded += paraphrases(fact.question, fact.expected or "", wanted - len(worded), seed)
    for n, (style, question) in enumerate(worded):
        if normalize(question) in used:
            continue
        used.add(normalize(question))
        if no_gold and n == wanted - 1:
            chunks = _without(fact, question, index, seed)
            passages = tuple(c.passage() for c in chunks)
            out.append(
                Example(
                    "no_gold",
                    question,
                    NOT_COVERED,
                    "",
                    None,
                    fact.document_id,
                    "",
                    "",
                    passages,
                    None,
                    style,
                    fact.fact,
                )
            )
        elif gold is not None:
            passages, source = _passages(question, gold, index, seed)
            out.append(replace(fact, question=question, passages=passages, source=source, phrasing=style))
    return out


def _gold(fact: Example, index: BM25Index) -> Chunk | None:
    return next(
        (
            c
            for c in index.chunks
            if c.document_id == fact.document_id and c.section == fact.section and fact.quote in c.text
        ),
        None,
    )


def _without(fact: Example, question: str, index: BM25Index, seed: int) -> list[Chunk]:
    """Passages retrieved for `question` with the fact's section and every chunk stating its answer left out."""

    def exclude(chunk: Chunk) -> bool:
        same_section = chunk.document_id == fact.document_id and chunk.section == fact.section
        return same_section or contains(chunk.text, fact.expected or "") or fact.quote in chunk.text

    return _fill([c for c, _ in index.search(question, PASSAGES_PER_PROMPT, exclude)], index, exclude, question, seed)


def all_candidates(docs: Sequence[DocumentText], seed: int = 0, extra: ExtraDrafts | None = None) -> list[Example]:
    """Every answerable example the rules (and `extra`) produce for `docs`, before any selection."""
    index = BM25Index(chunk_documents(docs))
    by_doc = _candidates(docs, index, seed, extra)
    return [example for doc in docs for example in by_doc[doc.id]]


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
    rotated = _KIND_ORDER[rotation % len(_KIND_ORDER) :] + _KIND_ORDER[: rotation % len(_KIND_ORDER)]
    kinds = (TEACHER_KIND, *rotated, "section")
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
    fact = real.fact if real is not None and question == real.question else OFF_TOPIC + question
    return Example("not_covered", question, NOT_COVERED, "", None, doc_id, "", "", passages, None, fact=fact)


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


def _candidates(
    docs: Sequence[DocumentText], index: BM25Index, seed: int, extra: ExtraDrafts | None = None
) -> dict[int, list[Example]]:
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
            offered = [*(extra(doc, section_index) if extra else ()), *section_drafts(section_ctx)]
            for draft in offered:
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
    fact = fact_key(ctx.doc.id, quote)
    return Example(
        kind, question, answer, quote, expected, ctx.doc.id, ctx.doc.name, section, passages, source, fact=fact
    )


def fact_key(document_id: int | None, quote: str) -> str:
    return f"{document_id}:{normalize(quote)}"


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
