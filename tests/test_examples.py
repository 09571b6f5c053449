"""Example generation and scoring on the real sample handbook (no mocks)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from orgtune.defaults import PASSAGES_PER_PROMPT
from retrieval import DocumentText, SectionText
from training.dataset import documents_from_files
from training.examples import GENERIC_QUESTIONS, Example, all_candidates, generate_examples
from training.prompts import NOT_COVERED, SYSTEM, is_not_covered, parse_reply
from training.scoring import contains, is_correct, normalize
from training.split import split_heldout

HANDBOOK = Path(__file__).resolve().parent.parent / "samples" / "handbook"


@pytest.fixture(scope="module")
def docs() -> list[DocumentText]:
    result = documents_from_files(sorted(HANDBOOK.iterdir()))
    assert len(result) == 6
    return result


@pytest.fixture(scope="module")
def examples(docs: list[DocumentText]) -> list[Example]:
    return generate_examples(docs, max_per_doc=20)


@pytest.fixture(scope="module")
def candidates(docs: list[DocumentText]) -> list[Example]:
    return all_candidates(docs)


@pytest.mark.parametrize(("max_per_doc", "phrasings"), [(20, 1), (5, 3), (1, 2)])
def test_facts_per_document_stay_within_the_limit(docs: list[DocumentText], max_per_doc: int, phrasings: int) -> None:
    made = generate_examples(docs, max_per_doc, phrasings=phrasings)
    assert {e.document_id for e in made} == {d.id for d in docs}
    for doc in docs:
        mine = [e for e in made if e.document_id == doc.id]
        facts = Counter(e.fact for e in mine)
        assert len(facts) <= max_per_doc
        # each fact: its phrasings, plus at most one prompt without its gold passage
        assert all(n <= phrasings + 1 for n in facts.values()), facts
    assert len({normalize(e.question) for e in made}) == len(made), "duplicate questions"


def test_each_fact_is_asked_in_several_phrasings(docs: list[DocumentText]) -> None:
    made = generate_examples(docs, 8, phrasings=3)
    by_fact: dict[str, list[Example]] = {}
    for e in made:
        if e.expected is not None:
            by_fact.setdefault(e.fact, []).append(e)
    assert sum(len(group) >= 2 for group in by_fact.values()) >= 0.8 * len(by_fact)
    styles = Counter(e.phrasing for e in made)
    assert {"direct", "casual", "terse", "typo", "framed"} <= set(styles), styles
    for group in by_fact.values():
        first = group[0]
        for e in group[1:]:
            # the same fact, quote and answer; its own wording, and passages retrieved for that wording
            assert (e.quote, e.answer, e.expected, e.section) == (
                first.quote,
                first.answer,
                first.expected,
                first.section,
            )
            assert e.phrasing != "direct" and not contains(e.question, e.expected or "")
            assert e.source is not None and e.quote in e.passages[e.source - 1].text


def test_some_facts_are_asked_without_their_gold_passage(docs: list[DocumentText]) -> None:
    made = generate_examples(docs, 8, phrasings=3)
    answerable = {e.fact: e for e in made if e.expected is not None}
    no_gold = [e for e in made if e.kind == "no_gold"]
    assert 0.1 <= len(no_gold) / len(answerable) <= 0.4
    for e in no_gold:
        fact = answerable[e.fact]
        assert e.target == NOT_COVERED and e.source is None and e.expected is None
        assert len(e.passages) == PASSAGES_PER_PROMPT
        for passage in e.passages:
            assert (passage.document, passage.section) != (fact.document, fact.section)
            assert not contains(passage.text, fact.expected or "") and fact.quote not in passage.text


def test_output_interleaves_documents(docs: list[DocumentText], examples: list[Example]) -> None:
    assert {e.document_id for e in examples[: len(docs)]} == {d.id for d in docs}


def test_nothing_to_generate() -> None:
    assert generate_examples([], 10) == []
    doc = DocumentText(1, "x.md", (SectionText("X", "Employees get 5 days of leave."),))
    assert generate_examples([doc], 0) == []


def test_answerable_examples_keep_their_invariants(docs: list[DocumentText], candidates: list[Example]) -> None:
    by_id = {d.id: d for d in docs}
    for e in candidates:
        doc = by_id[e.document_id or 0]
        assert e.document == doc.name
        section_texts = [s.text for s in doc.sections if s.heading == e.section]
        assert any(e.quote in text for text in section_texts), (e.question, e.quote)
        assert e.source is not None and 1 <= e.source <= len(e.passages) == PASSAGES_PER_PROMPT
        gold = e.passages[e.source - 1]
        assert (gold.document, gold.section) == (e.document, e.section) and e.quote in gold.text
        assert e.expected and contains(e.answer, e.expected) and contains(e.quote, e.expected), e
        assert not contains(e.question, e.expected), e.question
        assert e.question.endswith("?") and e.question[0].isupper()
        assert NOT_COVERED not in e.answer


def test_gold_passage_position_varies(examples: list[Example]) -> None:
    positions = Counter(e.source for e in examples if e.source is not None)
    assert len(positions) == PASSAGES_PER_PROMPT


def test_kinds_are_varied(examples: list[Example]) -> None:
    kinds = Counter(e.kind for e in examples)
    assert len(kinds) >= 5, kinds
    assert kinds["summary"] <= 6  # at most one per document
    assert 0.05 <= kinds["not_covered"] / len(examples) <= 0.25


def test_each_document_covers_many_sections(docs: list[DocumentText], examples: list[Example]) -> None:
    for doc in docs:
        sections = {e.section for e in examples if e.document_id == doc.id and e.kind != "not_covered"}
        assert len(sections) >= min(5, len(doc.sections) - 1), doc.name


def test_not_covered_passages_do_not_contain_the_answer(examples: list[Example], candidates: list[Example]) -> None:
    sources = {e.question: e for e in candidates}
    not_covered = [e for e in examples if e.kind == "not_covered"]
    assert not_covered and any(e.question in GENERIC_QUESTIONS for e in not_covered)
    assert any(e.question in sources for e in not_covered)
    for e in not_covered:
        assert e.target == NOT_COVERED and e.expected is None and e.source is None and e.quote == ""
        assert len(e.passages) == PASSAGES_PER_PROMPT
        source = sources.get(e.question)
        if source is None:
            assert e.question in GENERIC_QUESTIONS
            continue
        assert source.document_id != e.document_id or len({x.document_id for x in examples}) == 1
        for passage in e.passages:
            assert (passage.document, passage.section) != (source.document, source.section)
            assert not contains(passage.text, source.expected or ""), (e.question, passage.text)


def test_generation_is_deterministic_and_seeded(docs: list[DocumentText], examples: list[Example]) -> None:
    assert generate_examples(docs, max_per_doc=20) == examples
    other = generate_examples(docs, max_per_doc=20, seed=1)
    assert [e.source for e in other] != [e.source for e in examples]


@pytest.mark.parametrize("phrasings", [1, 3])
def test_split_heldout_is_by_fact(docs: list[DocumentText], phrasings: int) -> None:
    examples = generate_examples(docs, 20 if phrasings == 1 else 8, phrasings=phrasings)
    train, heldout = split_heldout(examples)
    assert split_heldout(examples) == (train, heldout)
    assert len(train) + len(heldout) == len(examples)
    assert not {id(e) for e in train} & {id(e) for e in heldout}
    # no held-out fact is among the training targets: not its quote, not any of its phrasings
    assert not {e.fact for e in train} & {e.fact for e in heldout}
    assert not {e.quote for e in train if e.quote} & {e.quote for e in heldout if e.quote}
    target = round(len(examples) * 0.15)
    assert 0.7 * target <= len(heldout) <= 1.5 * target
    assert any(e.off_topic for e in heldout)  # a question the channel can't answer
    facts = {e.fact: e for e in heldout if e.expected is not None}
    assert sum(e.kind in ("number", "fact", "definition") for e in facts.values()) >= 0.8 * len(facts)
    assert len({e.document_id for e in facts.values()}) >= 5  # spread over documents


@pytest.mark.parametrize(("size", "low", "high"), [(0, 0, 0), (1, 0, 0), (5, 1, 1), (8, 4, 6), (40, 6, 9)])
def test_split_heldout_sizes(examples: list[Example], size: int, low: int, high: int) -> None:
    subset = examples[:size]
    train, heldout = split_heldout(subset)
    assert low <= len(heldout) <= high and len(train) == size - len(heldout)
    assert size == 0 or train  # never everything


def test_dict_round_trip(examples: list[Example]) -> None:
    for e in examples:
        data = json.loads(json.dumps(e.to_dict()))
        assert Example.from_dict(data) == e


def test_messages_use_the_shared_prompt_format(examples: list[Example]) -> None:
    for e in examples[:10] + [e for e in examples if e.kind == "not_covered"][:2]:
        messages = e.messages()
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        assert messages[0]["content"] == SYSTEM
        assert e.question in messages[1]["content"]
        assert messages[2]["content"] == e.target
        if e.source is not None:
            assert e.target == f"Quote: {' '.join(e.quote.split())}\nAnswer: {e.answer.strip()}"
            reply = parse_reply(e.target)
            assert (reply.quote, reply.answer) == (" ".join(e.quote.split()), e.answer.strip())
            assert is_correct(e.expected, e.target)
        else:
            assert is_not_covered(e.target) and is_correct(None, e.target)


@pytest.mark.parametrize(
    ("expected", "generated", "correct"),
    [
        ("27", "You get 27 days.", True),
        ("27", "127 days", False),
        ("27", "27.5 days", False),
        ("0.45", "GBP 10.45 per mile", False),
        ("0.45", "£0.45 per mile", True),
        ("1,200", "GBP 1200 per year", True),
        ("1200", "GBP 1,200 per year", True),
        ("09:30", "Arrive at 09:30.", True),
        ("#sec-incidents", "Post in #sec-incidents.", True),
        ("Brightwell Health Plus", "It is brightwell health plus.\nSource: [2] a — b", True),
        ("27", 'The answer.\nSource: [1] benefits.md — Vacation: "27 days"', False),
        ("27", "Quote: Everyone gets 27 days.\nAnswer: You get 27 days.", True),
        ("27", "Quote: Everyone gets 27 days.\nAnswer: Ask HR.", False),  # the quote alone isn't the answer
        (None, NOT_COVERED, True),
        (None, "27 days", False),
        ("27", NOT_COVERED, False),
        ("27", "27 days, but the documents don't cover this.", False),
        ("$", "anything", False),
    ],
)
def test_is_correct(expected: str | None, generated: str, correct: bool) -> None:
    assert is_correct(expected, generated) is correct


def test_normalize() -> None:
    assert normalize("GBP 1,200 per year; £45, €3 and $7!") == "1200 per year 45 3 and 7"
    assert normalize("At 09:30 or 0.45. Café") == "at 09:30 or 0.45 café"
