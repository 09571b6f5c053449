"""Retrieval over the sample handbook: chunking contracts and BM25 ranking."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgtune.defaults import PASSAGE_WORDS, PASSAGES_PER_PROMPT
from parsing.words import count_words
from retrieval import (
    BM25Index,
    Chunk,
    DocumentText,
    SectionText,
    chunk_document,
    chunk_documents,
    sentence_spans,
    tokenize,
)
from training.dataset import documents_from_files

HANDBOOK = Path(__file__).resolve().parent.parent / "samples" / "handbook"


@pytest.fixture(scope="module")
def docs() -> list[DocumentText]:
    result = documents_from_files(sorted(HANDBOOK.iterdir()))
    return result


@pytest.fixture(scope="module")
def index(docs: list[DocumentText]) -> BM25Index:
    return BM25Index(chunk_documents(docs))


def assert_covers(section: str, chunks: list[Chunk]) -> None:
    """Chunks are verbatim, in order, non-overlapping, and leave out only whitespace."""
    position = 0
    for chunk in chunks:
        found = section.find(chunk.text, position)
        assert found >= 0, chunk.text
        assert not section[position:found].strip(), section[position:found]
        position = found + len(chunk.text)
    assert not section[position:].strip()


def test_sentence_spans_respect_abbreviations_numbers_and_lines() -> None:
    text = "Claim e.g. taxis at GBP 0.45 per mile. Then stop!\n\n- A list item\nNext line"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Claim e.g. taxis at GBP 0.45 per mile.",
        "Then stop!",
        "- A list item",
        "Next line",
    ]


@pytest.mark.parametrize("max_words", [PASSAGE_WORDS, 30, 12])
def test_chunks_cover_each_section_and_stay_within_size(docs: list[DocumentText], max_words: int) -> None:
    for doc in docs:
        chunks = chunk_document(doc, max_words)
        for index, section in enumerate(doc.sections):
            mine = [c for c in chunks if c.section_index == index]
            assert all(c.section == section.heading and c.document == doc.name for c in mine)
            assert_covers(section.text, mine)
            assert all(count_words(c.text) <= max_words for c in mine)


def test_overlong_sentence_is_cut_between_words() -> None:
    sentence = " ".join(f"word{i}" for i in range(250)) + "."
    doc = DocumentText(1, "long.txt", (SectionText("Long", f"Short intro. {sentence} Short outro."),))
    chunks = chunk_document(doc, 90)
    assert_covers(doc.sections[0].text, chunks)
    assert max(count_words(c.text) for c in chunks) <= 90
    assert len(chunks) >= 3


def test_sentences_within_the_limit_are_never_split(docs: list[DocumentText]) -> None:
    for doc in docs:
        chunks = chunk_document(doc, 30)
        for index, section in enumerate(doc.sections):
            texts = [c.text for c in chunks if c.section_index == index]
            for start, end in sentence_spans(section.text):
                sentence = section.text[start:end]
                if count_words(sentence) <= 30:
                    assert any(sentence in text for text in texts), sentence


def test_passage_carries_document_section_and_text(index: BM25Index) -> None:
    chunk = index.chunks[0]
    passage = chunk.passage()
    assert (passage.document, passage.section, passage.text) == (chunk.document, chunk.section, chunk.text)


@pytest.mark.parametrize(
    ("query", "document", "section"),
    [
        ("how many vacation days", "benefits.md", "Vacation"),
        ("dinner limit", "expenses.md", "Meal limits"),
        ("Which tool is used to book business travel?", "travel-policy.docx", "Booking"),
        ("What is the minimum length of a password?", "security.md", "Passwords"),
        ("security hotline phone number", "security.md", "Reporting a security incident"),
        ("How long is the probation period?", "onboarding.md", "Your first 90 days"),
    ],
)
def test_bm25_ranks_the_right_chunk_first(index: BM25Index, query: str, document: str, section: str) -> None:
    results = index.search(query)
    assert (results[0][0].document, results[0][0].section) == (document, section)
    assert len(results) <= PASSAGES_PER_PROMPT
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)


def test_exclude_removes_chunks_and_next_best_moves_up(index: BM25Index) -> None:
    best = index.search("dinner limit", k=5)
    kept = index.search("dinner limit", k=4, exclude=lambda c: c.section == "Meal limits")
    assert all(c.section != "Meal limits" for c, _ in kept)
    assert [c for c, _ in kept] == [c for c, _ in best if c.section != "Meal limits"][:4]


def test_numbers_match_with_or_without_thousands_separators(index: BM25Index) -> None:
    assert tokenize("GBP 1,200") == tokenize("GBP 1200") == ["gbp", "1200"]
    assert index.search("1200")[0][0].section == "Learning budget"
    assert index.search("10000 miles")[0][0].section == "Mileage"


def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize("vacation days") == tokenize("vacation day")
    assert tokenize("Approved travelling requests") == tokenize("approve travel request")
    assert tokenize("What is the time? 09:30") == ["time", "09:30"]


def test_relevance_agrees_with_search_and_is_zero_without_overlap(index: BM25Index) -> None:
    chunk, score = index.search("wellbeing allowance gym")[0]
    assert index.relevance("wellbeing allowance gym", chunk) == pytest.approx(score)
    assert index.relevance("zebra xylophone", chunk) == 0.0
    outside = Chunk(99, "x.md", "Gym", 0, "A wellbeing allowance for the gym.")
    assert index.relevance("wellbeing allowance gym", outside) > 0


def test_empty_index_and_query() -> None:
    assert BM25Index([]).search("anything") == []
    assert chunk_document(DocumentText(1, "e.md", (SectionText("Empty", ""),))) == []


def test_misspelt_query_words_find_the_word_they_mean() -> None:
    from retrieval.bm25 import edit_distance

    assert [edit_distance(a, b) for a, b in [("benfeits", "benefits"), ("finace", "finance"), ("vpn", "vpn")]] == [
        1,
        1,
        0,
    ]
    assert edit_distance("kitten", "sitting") == 3
    docs = [
        DocumentText(1, "benefits.md", (SectionText("Vacation", "Every employee receives 27 days of paid vacation."),)),
        DocumentText(2, "security.md", (SectionText("Passwords", "Every password must be at least 14 characters."),)),
    ]
    index = BM25Index(chunk_documents(docs))
    assert index.query_terms("how many vacaton days") == index.query_terms("how many vacation days")
    assert index.search("vacaton days")[0][0].document == "benefits.md"
    assert index.search("pasword length")[0][0].document == "security.md"
    # short words and words the index already holds are left alone; nothing close stays as typed
    assert index.query_terms("cat dog zzzzzzzz") == ["cat", "dog", "zzzzzzzz"]
