"""Evidence ranking and the grounding check that decide between a generated and a quoted answer."""

from __future__ import annotations

from answering.evidence import grounded, key_tokens, rank_evidence
from answering.pipeline import retrieve
from retrieval import BM25Index, DocumentText, SectionText, chunk_documents

PER_DIEMS = (
    "A per diem is a fixed daily allowance that covers meals, local transport and small incidental costs "
    "while travelling, so no individual meal receipts are needed.\n\n"
    "City | Per diem (GBP per day) | Hotel cap (GBP per night)\n\n"
    "London | 60 | 220\n\nNairobi | 40 | 140\n\nNew York | 75 | 300"
)
DOCS = [
    DocumentText(
        1, "travel.md", (SectionText("Per diems", PER_DIEMS), SectionText("Booking", "Book trips in Wayfarer."))
    ),
    DocumentText(2, "benefits.md", (SectionText("Vacation", "Every employee receives 27 days of paid vacation."),)),
]


def _evidence(question: str):  # type: ignore[no-untyped-def]
    index = BM25Index(chunk_documents(DOCS))
    return rank_evidence(question, index.search(question, k=2), index, DOCS)


def test_table_rows_are_read_with_their_header_and_the_header_alone_is_no_evidence() -> None:
    best = _evidence("What is the hotel cap per night in New York?")
    assert best[0].text == "City: New York; Per diem (GBP per day): 75; Hotel cap (GBP per night): 300"
    assert all(not e.text.startswith("City | Per diem") for e in best)
    assert (best[0].document, best[0].section) == ("travel.md", "Per diems")


def test_with_equal_support_the_denser_sentence_wins() -> None:
    assert _evidence("What is the daily per diem for Nairobi?")[0].text.startswith("City: Nairobi;")


def test_support_is_the_share_of_question_weight_found() -> None:
    [best, *_] = _evidence("How many vacation days do employees receive?")
    assert best.text.startswith("Every employee receives 27 days") and best.support > 0.9
    assert _evidence("What is the guest Wi-Fi password for Bristol?") == []  # no passage at all


def test_key_tokens_are_numbers_codes_and_names_not_sentence_starts() -> None:
    assert key_tokens("The hotline is +44 117. Call Kwame Asante or use NWL-TRV-2025 at 09:30.") == [
        "+44", "117", "Kwame", "Asante", "NWL-TRV-2025", "09:30",
    ]  # fmt: skip


def test_grounded_answers_state_only_what_the_evidence_says() -> None:
    evidence, question = "Every employee receives 27 days of paid vacation.", "How many vacation days do we get?"
    assert grounded("You get 27 days of paid vacation.", evidence, question)
    assert not grounded("You get 25 days of paid vacation.", evidence, question)  # invented number
    assert not grounded("How many vacation days do we get?", evidence, question)  # restates the question
    assert not grounded("The passage you provided is a reference to a file.", evidence, question)  # unrelated


def test_retrieve_finds_passages_and_evidence_from_the_given_documents_only() -> None:
    context = retrieve(DOCS[1:], "How many vacation days do employees receive?")
    assert [c.document for c, _ in context.passages] == ["benefits.md"] and context.evidence[0].support > 0.9
    assert context.evidence[0].text == "Every employee receives 27 days of paid vacation."


class _Said:
    """Stands in for the model's text only: the decision between generated and quoted is under test."""

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, messages, adapter, model_name):  # type: ignore[no-untyped-def]
        from answering.engine import Generation

        return Generation(self.text, 8, 0.01, model_name, None)


def _answer(said: str, question: str = "How many vacation days do employees receive?"):  # type: ignore[no-untyped-def]
    from answering.pipeline import answer

    return answer(question, retrieve(DOCS, question), _Said(said), "smollm2")  # type: ignore[arg-type]


def test_a_grounded_answer_is_posted_as_generated_with_its_sentence_as_source() -> None:
    got = _answer("Employees receive 27 days of paid vacation.")
    assert (got.text, got.grounding, got.covered) == ("Employees receive 27 days of paid vacation.", "generated", True)
    assert got.sources[0].quote == "Every employee receives 27 days of paid vacation."


def test_an_invented_number_or_a_refusal_is_replaced_by_the_quoted_sentence() -> None:
    for said in ("Employees receive 30 days of paid vacation.", "The documents don't cover this."):
        got = _answer(said)
        assert (got.text, got.grounding) == ("Every employee receives 27 days of paid vacation.", "quoted")


def test_an_irrelevant_question_is_not_covered_without_asking_the_model() -> None:
    got = _answer("Employees receive 27 days.", question="Who won the chess tournament?")
    assert (got.covered, got.grounding, got.generated) == (False, "", "")


def test_list_items_are_quoted_without_their_bullets() -> None:
    docs = [DocumentText(3, "onboarding.md", (SectionText("Probation", "- Your probation period is 6 months."),))]
    index = BM25Index(chunk_documents(docs))
    question = "How long is the probation period?"
    [best] = rank_evidence(question, index.search(question, k=2), index, docs)
    assert best.text == "Your probation period is 6 months."
