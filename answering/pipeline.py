"""One question to one answer: retrieve passages, generate with the channel's adapter, cite sources."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from answering.channel_index import Prepare, process_index_cache
from answering.engine import AdapterRef, Generation
from answering.evidence import Evidence, Similarity, rank_evidence, strip_bullet
from answering.verify import MIN_QUOTE_WORDS, Verified, verify
from orgtune import defaults
from retrieval import BM25Index, Chunk, DocumentText, chunk_documents, hybrid_search, sentence_spans, tokenize
from storage import runs
from storage.channels import ChannelKey
from training import prompts
from training.prompts import Passage


@dataclass(frozen=True)
class Source:
    document: str
    section: str
    quote: str = ""


@dataclass
class Answer:
    question: str
    text: str
    covered: bool
    sources: list[Source] = field(default_factory=list)
    adapter_id: int | None = None
    adapter_version: int | None = None
    model: str = ""
    seconds: float = 0.0
    generated: str = ""
    """The raw model output ('' when retrieval alone decided the documents don't cover it)."""
    grounding: str = ""
    """How the posted answer was made: 'generated' (the model's answer, its quote verified in a passage),
    'quoted' (the ranker's best sentence: the fallback when the model's reply couldn't be verified, or
    quote-only answering), 'declined' (not covered: the model said so) or '' (not covered: retrieval
    found nothing relevant, the model wasn't asked)."""
    quote_relevance: float = 0.0
    """Relevance to the question of the sentence the model quoted (when its quote was found in a passage)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "covered": self.covered,
            "sources": [{"document": s.document, "section": s.section, "quote": s.quote} for s in self.sources],
            "adapter": None if self.adapter_version is None else f"v{self.adapter_version}",
            "model": self.model,
            "grounding": self.grounding or None,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Context:
    """What answering a question in a channel needs from the database, loaded up front."""

    passages: list[tuple[Chunk, float]]
    adapter: AdapterRef | None
    adapter_version: int | None
    evidence: list[Evidence] = field(default_factory=list)
    """The passages' sentences, best supported first."""


def load_context(
    session: Session,
    key: ChannelKey,
    question: str,
    artifacts_root: Any,
    similarity: Similarity | None = None,
    prepare: Prepare | None = None,
) -> Context:
    """Passages from this channel's documents only, and this channel's active adapter only (the channel's
    index is this process's, rebuilt only when its documents changed: `answering.channel_index`)."""
    channel = process_index_cache().get(session, key, prepare)
    adapter = runs.active_adapter(session, key)
    ref = AdapterRef(adapter.id, adapter.model, artifacts_root / adapter.path) if adapter else None
    return retrieve(channel.docs, question, ref, adapter.version if adapter else None, similarity, channel.index)


def candidates(passages: list[Passage]) -> list[tuple[Passage, str]]:
    """Every sentence (or table row) of the passages, verbatim: what a model may quote."""
    found = []
    for passage in passages:
        previous_was_row = False
        for start, end in sentence_spans(passage.text):
            sentence = strip_bullet(passage.text[start:end].strip())
            is_row = " | " in sentence
            header = is_row and not previous_was_row  # a table's first row names columns, it answers nothing
            previous_was_row = is_row
            if len(sentence.split()) >= MIN_QUOTE_WORDS and not header:
                found.append((passage, sentence))
    return found


def _choose_and_answer(
    engine: Scorer,
    messages: list[dict[str, str]],
    passages: list[Passage],
    context: Context,
    model: str,
) -> tuple[prompts.Reply, str, str]:
    """The model picks its quote among the passages' sentences (or 'not covered') by how likely it finds
    each as the start of its reply, weighed with the sentence's relevance; then it writes the answer.
    Returns the reply, the raw text and the model that wrote it."""
    options = candidates(passages)
    if not options:
        return prompts.Reply("", "", True), "", ""
    texts = [f"Quote: {' '.join(sentence.split())}\nAnswer:" for _, sentence in options]
    scores = engine.score(messages, [*texts, prompts.NOT_COVERED], context.adapter, model)
    weighed = [
        s + defaults.RANKER_WEIGHT * quote_relevance(sentence, passage, context.evidence)
        for s, (passage, sentence) in zip(scores, options, strict=False)
    ]
    best = max(range(len(options)), key=weighed.__getitem__)
    if scores[-1] > scores[best]:  # the model itself finds "not covered" likelier than any quote
        return prompts.Reply("", prompts.NOT_COVERED, True), prompts.NOT_COVERED, ""
    quote = " ".join(options[best][1].split())
    gen = engine.generate(messages, context.adapter, model, prefix=f"Quote: {quote}\nAnswer:")
    reply = prompts.Reply(quote, gen.text.split("\n")[0].strip(), prompts.is_not_covered(gen.text))
    return reply, f"Quote: {quote}\nAnswer: {gen.text}", gen.model


def quote_relevance(quote: str, passage: Passage, evidence: list[Evidence]) -> float:
    """The relevance of the ranked sentence(s) of ``passage`` that ``quote`` is made of (the best one)."""
    words = set(tokenize(quote))
    if not words:
        return 0.0
    same = [e for e in evidence if (e.document, e.section) == (passage.document, passage.section)]
    return max(
        (e.relevance for e in same if len(words & set(tokenize(e.text))) >= QUOTE_OVERLAP * len(words)), default=0.0
    )


QUOTE_OVERLAP = 0.6
"""A quote is made of a ranked sentence when most of its words are that sentence's (a table row's cells
are in the row as read with its header; a quote may also run over two sentences)."""


def retrieve(
    docs: list[DocumentText],
    question: str,
    adapter: AdapterRef | None = None,
    version: int | None = None,
    similarity: Similarity | None = None,
    index: BM25Index | None = None,
) -> Context:
    """Best passages for ``question`` among ``docs`` (``index``: theirs, when already built) and their
    sentences, most relevant first."""
    index = index or BM25Index(chunk_documents(docs))
    hits = hybrid_search(index, question, similarity)
    return Context(hits, adapter, version, rank_evidence(question, hits, index, docs, similarity))


class Generator(Protocol):
    """What answers need from a model: the warm `Engine`, the `RemoteEngine`, or a model already in memory."""

    def generate(self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str) -> Generation: ...


@runtime_checkable
class Scorer(Protocol):
    """A model that can also score continuations (the local engine, a training run's model): it picks the
    quote among the passages' own sentences instead of writing it, so its quote is verbatim by construction."""

    def generate(
        self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str, prefix: str = ""
    ) -> Generation: ...

    def score(
        self, messages: list[dict[str, str]], continuations: list[str], adapter: AdapterRef | None, model_name: str
    ) -> list[float]: ...


@dataclass(frozen=True)
class Gates:
    """Where retrieval decides alone and where the model does (see `answer`); the defaults are the product's,
    `bench/answer_thresholds.py` sweeps them on a dev file."""

    not_covered_below: float = defaults.NOT_COVERED_BELOW
    quote_min_relevance: float = defaults.QUOTE_MIN_RELEVANCE
    min_relevance: float = defaults.MIN_RELEVANCE
    confident_relevance: float = defaults.CONFIDENT_RELEVANCE


@dataclass(frozen=True)
class Observed:
    """Everything about one question that the gates decide on: retrieval's best sentence and the model's reply."""

    best: Evidence | None
    reply: prompts.Reply | None = None
    """None when the model wasn't asked (quote-only, or nothing relevant enough to ask it about)."""
    found: Verified | None = None
    """The reply's quote located in a passage, when it is real and backs the answer."""
    quote_relevance: float = 0.0
    generated: str = ""
    model: str = ""

    @property
    def relevance(self) -> float:
        return self.best.relevance if self.best else 0.0


def observe(question: str, context: Context, engine: Generator | None, default_model: str, ask_from: float) -> Observed:
    """Ask ``engine`` (when the best sentence's relevance is at least ``ask_from``) and verify its reply."""
    best = context.evidence[0] if context.evidence else None
    if engine is None or best is None or best.relevance < ask_from:
        return Observed(best)
    passages = [chunk.passage() for chunk, _ in context.passages]
    messages = prompts.chat(question, passages)
    if isinstance(engine, Scorer):
        reply, generated, model = _choose_and_answer(engine, messages, passages, context, default_model)
    else:
        gen = engine.generate(messages, context.adapter, default_model)
        reply, generated, model = prompts.parse_reply(gen.text), gen.text, gen.model
    found = verify(reply, passages, question)
    relevance = quote_relevance(found.quote, found.passage, context.evidence) if found else 0.0
    return Observed(best, reply, found, relevance, generated, model)


def decide(seen: Observed, gates: Gates) -> tuple[str, bool, str, list[Source]]:
    """(text, covered, grounding, sources) of the posted reply, from what was observed (`Answer.grounding`)."""
    best, relevance, reply = seen.best, seen.relevance, seen.reply
    if best is None or relevance < gates.not_covered_below:
        return prompts.NOT_COVERED, False, "", []  # nothing relevant at all: the model isn't asked to improvise
    found = seen.found
    if reply is not None and found is not None and seen.quote_relevance >= gates.quote_min_relevance:
        return reply.answer, True, "generated", [Source(found.passage.document, found.passage.section, found.quote)]
    if reply is not None and reply.not_covered and relevance < gates.confident_relevance:
        return prompts.NOT_COVERED, False, "declined", []
    if relevance >= gates.min_relevance:
        return best.text, True, "quoted", [Source(best.document, best.section, best.text)]
    return prompts.NOT_COVERED, False, "", []


def answer(
    question: str, context: Context, engine: Generator | None, default_model: str, gates: Gates | None = None
) -> Answer:
    """The reply a user sees. With ``engine`` None: quote-only (the ranker's best sentence, no model).

    Retrieval decides alone only at its extremes: below NOT_COVERED_BELOW nothing relevant was found
    and the model isn't asked; at or above CONFIDENT_RELEVANCE a passage plainly answers, so a refusal
    is not believed. In between the model's own "not covered" stands. A reply is posted when its quote
    is verified in a passage and backs the answer (`answering.verify`), and the quoted sentence is about
    the question (relevance QUOTE_MIN_RELEVANCE: a model may copy a true but unrelated sentence, and
    answer from it); otherwise the ranker's best sentence is quoted when it is relevant enough
    (MIN_RELEVANCE), else the reply is "not covered".
    """
    start = time.perf_counter()
    gates = gates or Gates()
    question = question.strip()[: defaults.MAX_QUESTION_CHARS]
    model = context.adapter.model if context.adapter else default_model
    seen = observe(question, context, engine, default_model, gates.not_covered_below)
    text, covered, grounding, sources = decide(seen, gates)
    return Answer(
        question,
        text,
        covered,
        sources,
        adapter_id=context.adapter.adapter_id if context.adapter else None,
        adapter_version=context.adapter_version,
        model=(seen.model or model) if engine is not None else "",
        seconds=time.perf_counter() - start,
        generated=seen.generated,
        grounding=grounding,
        quote_relevance=seen.quote_relevance,
    )
