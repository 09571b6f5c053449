"""Hybrid retrieval (BM25 fused with an embedding), the per-channel index and stored chunk vectors, the gates."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from answering.channel_index import IndexCache
from answering.embed import Embedder, model_dir
from answering.evidence import Evidence
from answering.pipeline import Gates, Observed, decide
from answering.verify import Verified
from retrieval import BM25Index, DocumentText, SectionText, chunk_documents, chunk_view, hybrid_search
from storage import documents
from storage.artifacts import Artifacts
from storage.channels import ChannelKey
from storage.db import Database
from storage.documents import NewDocument, ParsedSection
from training.prompts import NOT_COVERED, Passage, Reply

DOCS = [
    DocumentText(1, "benefits.md", (SectionText("Vacation", "Every employee receives 27 days of paid leave a year."),)),
    DocumentText(2, "expenses.md", (SectionText("Meals", "Client dinners are capped at GBP 75 per head."),)),
    DocumentText(3, "security.md", (SectionText("Laptops", "Report a lost laptop within 1 hour."),)),
]


def _meaning(table: dict[str, float]):  # type: ignore[no-untyped-def]
    """A stand-in embedding: similarity by the chunk's section, as a real model would rate these texts."""

    def similarity(query: str, texts: list[str]) -> list[float]:
        return [next((v for k, v in table.items() if t.startswith(k)), 0.0) for t in texts]

    return similarity


def test_a_chunk_sharing_no_word_with_the_question_is_found_by_meaning() -> None:
    index = BM25Index(chunk_documents(DOCS))
    question = "yo how much pto is there"  # no word in common with "27 days of paid leave"
    assert [c.document for c, _ in hybrid_search(index, question, None, k=3)] == []
    found = hybrid_search(index, question, _meaning({"Vacation": 0.8, "Meals": 0.1, "Laptops": 0.1}), k=1)
    assert [c.document for c, _ in found] == ["benefits.md"]


def test_lexical_evidence_still_counts_when_meaning_is_flat() -> None:
    index = BM25Index(chunk_documents(DOCS))
    flat = _meaning({"Vacation": 0.3, "Meals": 0.3, "Laptops": 0.3})
    found = hybrid_search(index, "how fast do I report a lost laptop", flat, k=3)
    assert found[0][0].document == "security.md" and found[0][1] > found[1][1]
    assert [c for c, _ in hybrid_search(index, "lost laptop", None, k=1)] == [found[0][0]]


@pytest.mark.skipif(model_dir() is None, reason="the embedding weights package is not installed")
def test_the_embedder_encodes_a_text_once_and_gives_the_same_similarities() -> None:
    path = model_dir()
    assert isinstance(path, Path)
    embedder, plain = Embedder(path), Embedder(path)
    texts = [chunk_view(c) for c in chunk_documents(DOCS)]
    first = embedder.similarities("how many holidays do I get", texts)
    encoded: list[int] = []
    encode = embedder._encode
    embedder._encode = lambda batch: encoded.append(len(batch)) or encode(batch)  # type: ignore[method-assign]
    again = embedder.similarities("how many holidays do I get", texts)
    embedder.similarities("where is the office", texts)
    assert encoded == [1]  # only the new question: the chunks' vectors and the first question's were kept
    assert again == pytest.approx(first, abs=1e-6)
    assert plain.similarities("how many holidays do I get", texts[::-1]) == pytest.approx(first[::-1], abs=1e-5)
    assert max(range(3), key=first.__getitem__) == 0  # holidays ~ paid leave


BEST = Evidence("Every employee receives 27 days of paid leave a year.", "benefits.md", "Vacation", 0.5, 0.4)
PASSAGE = Passage("benefits.md", "Vacation", BEST.text)
REPLY = Reply(BEST.text, "27 days", False)


def _seen(reply: Reply | None, quote_relevance: float = 0.7) -> Observed:
    found = Verified(PASSAGE, BEST.text) if reply is not None and not reply.not_covered else None
    return Observed(BEST, reply, found, quote_relevance)


def test_the_gates_decide_between_the_model_the_ranker_and_not_covered() -> None:
    assert BEST.relevance == pytest.approx(0.7)
    assert decide(_seen(REPLY), Gates(0.45, 0.6, 0.6, 0.9))[:3] == ("27 days", True, "generated")
    assert decide(_seen(REPLY), Gates(0.75, 0.6, 0.6, 0.9))[:3] == (NOT_COVERED, False, "")  # below the gate
    quoted = decide(_seen(REPLY, quote_relevance=0.5), Gates(0.45, 0.6, 0.6, 0.9))  # quoted an unrelated line
    assert quoted[:3] == (BEST.text, True, "quoted") and quoted[3][0].section == "Vacation"
    refused = _seen(Reply("", NOT_COVERED, True))
    assert decide(refused, Gates(0.45, 0.6, 0.6, 0.9))[2] == "declined"  # the model's own refusal stands
    assert decide(refused, Gates(0.45, 0.6, 0.6, 0.65))[2] == "quoted"  # retrieval is sure: not believed
    assert decide(_seen(None), Gates(0.45, 0.6, 0.75, 0.9))[:3] == (NOT_COVERED, False, "")  # quote-only, weak


def _add(session, key, name: str, text: str) -> int:  # type: ignore[no-untyped-def]
    doc = documents.create(session, key, NewDocument(name, source="cli"))
    documents.mark_ready(
        session, doc, kind="md", title=None, pages=None, sections=[ParsedSection("Policy", 2, text, len(text.split()))]
    )
    doc.sha256 = hashlib.sha256(text.encode()).hexdigest()
    return int(doc.id)


def test_a_channel_index_is_built_once_and_rebuilt_when_its_documents_change(db: Database) -> None:
    key, cache = ChannelKey("T1", "C1"), IndexCache()
    with db.session() as session:
        _add(session, key, "a.md", "Every employee receives 27 days of paid leave a year.")
        session.commit()
    prepared: list[dict[int, list[str]]] = []
    with db.session() as session:
        first = cache.get(session, key, prepared.append)
        assert cache.get(session, key, prepared.append) is first and cache.builds == 1
        forgotten = _add(session, key, "b.md", "Report a lost laptop within 1 hour.")
        session.commit()  # as another process would: only the fingerprint tells
        second = cache.get(session, key, prepared.append)
        assert cache.builds == 2 and [d.name for d in second.docs] == ["a.md", "b.md"]
        assert sorted(prepared[-1]) == [first.docs[0].id, forgotten]  # every document's chunks, by id
        documents.forget(session, documents.get(session, forgotten))  # type: ignore[arg-type]
        session.commit()
        assert [d.name for d in cache.get(session, key).docs] == ["a.md"] and cache.builds == 3
        other = cache.get(session, ChannelKey("T1", "C2"))
        assert other.docs == [] and cache.builds == 4  # channels never share an index


@pytest.mark.skipif(model_dir() is None, reason="the embedding weights package is not installed")
def test_chunk_vectors_are_stored_once_read_back_after_a_restart_and_forgotten_with_the_document(
    tmp_path: Path,
) -> None:
    path = model_dir()
    assert isinstance(path, Path)
    artifacts, key = Artifacts(tmp_path), ChannelKey("T1", "C1")
    groups = {7: [chunk_view(c) for c in chunk_documents(DOCS[:2])], 8: [chunk_view(chunk_documents(DOCS)[2])]}
    embedder = Embedder(path)
    assert embedder.preload(groups, artifacts.vectors_dir(key)) == 3
    assert embedder.preload(groups, artifacts.vectors_dir(key)) == 0  # in memory
    before = embedder.similarities("lost laptop", groups[7] + groups[8])
    restarted = Embedder(path)
    assert restarted.preload(groups, artifacts.vectors_dir(key)) == 0  # read back from disk
    assert restarted.similarities("lost laptop", groups[7] + groups[8]) == pytest.approx(before, abs=2e-3)
    artifacts.delete_document(key, 7)
    assert [p.name.split("-")[0] for p in artifacts.vectors_dir(key).iterdir()] == ["8"]
    (artifacts.vectors_dir(key) / next(artifacts.vectors_dir(key).iterdir()).name).write_bytes(b"torn")
    assert Embedder(path).preload(groups, artifacts.vectors_dir(key)) == 3  # unreadable or missing: encoded again
