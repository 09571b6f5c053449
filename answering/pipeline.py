"""One question to one answer: retrieve passages, generate with the channel's adapter, cite sources."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from answering.engine import AdapterRef, Engine
from answering.evidence import Evidence, Similarity, grounded, rank_evidence
from answering.remote import RemoteEngine
from orgtune import defaults
from retrieval import BM25Index, Chunk, DocumentText, chunk_documents
from storage import runs
from storage.channels import ChannelKey
from training import prompts
from training.dataset import channel_documents


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
    """How the posted answer was made: 'generated' (grounded in the best sentence), 'quoted' (that sentence
    itself, the model's answer wasn't grounded) or '' (not covered)."""

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
    session: Session, key: ChannelKey, question: str, artifacts_root: Any, similarity: Similarity | None = None
) -> Context:
    """Passages from this channel's documents only, and this channel's active adapter only."""
    docs, _ = channel_documents(session, key)
    adapter = runs.active_adapter(session, key)
    ref = AdapterRef(adapter.id, adapter.model, artifacts_root / adapter.path) if adapter else None
    return retrieve(docs, question, ref, adapter.version if adapter else None, similarity)


def _grounding(text: str, evidence: list[Evidence], question: str) -> Evidence | None:
    """The first of the best few sentences that the generated answer is grounded in, if any."""
    top = evidence[: defaults.GROUNDING_SENTENCES]
    return next((e for e in top if e.relevance >= defaults.MIN_RELEVANCE and grounded(text, e.text, question)), None)


def retrieve(
    docs: list[DocumentText],
    question: str,
    adapter: AdapterRef | None = None,
    version: int | None = None,
    similarity: Similarity | None = None,
) -> Context:
    """Best passages for ``question`` among ``docs`` and their sentences, most relevant first."""
    index = BM25Index(chunk_documents(docs))
    hits = index.search(question, k=defaults.PASSAGES_PER_PROMPT)
    return Context(hits, adapter, version, rank_evidence(question, hits, index, docs, similarity))


def answer(question: str, context: Context, engine: Engine | RemoteEngine, default_model: str) -> Answer:
    start = time.perf_counter()
    question = question.strip()[: defaults.MAX_QUESTION_CHARS]
    model = context.adapter.model if context.adapter else default_model
    base = Answer(
        question,
        prompts.NOT_COVERED,
        False,
        adapter_id=context.adapter.adapter_id if context.adapter else None,
        adapter_version=context.adapter_version,
        model=model,
    )
    best = context.evidence[0] if context.evidence else None
    if best is None or best.relevance < defaults.MIN_RELEVANCE:
        base.seconds = time.perf_counter() - start
        return base  # nothing relevant enough: say so without asking the model to improvise
    passages = [chunk.passage() for chunk, _ in context.passages]
    gen = engine.generate(prompts.chat(question, passages), context.adapter, default_model)
    text, _ = prompts.parse_answer(gen.text)
    base.generated, base.model = gen.text, gen.model
    base.seconds = time.perf_counter() - start
    # The evidence decides whether the documents answer the question: small models refuse questions
    # their passages plainly answer, and state numbers their passages don't contain.
    refused = prompts.is_not_covered(gen.text) or not text
    support = None if refused else _grounding(text, context.evidence, question)
    if support is not None:
        base.text, base.grounding, best = text, "generated", support
    else:
        base.text, base.grounding = best.text, "quoted"
    base.covered = True
    base.sources = [Source(best.document, best.section, best.text)]
    return base
